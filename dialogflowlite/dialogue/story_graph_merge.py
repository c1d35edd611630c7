"""Merging alike steps of a story graph (``visualize --max-history``, as Rasa draws it).

Steps with the same label whose next ``max_history`` steps are alike are
drawn as one node, so a graph of many similar stories stays readable.
"""

from __future__ import annotations

from dialogflowlite.dialogue.story_graph import StoryGraph

#: the ids of the START and END nodes of a :class:`StoryGraph`
START, END = 0, 1


def merge_alike_steps(graph: StoryGraph, max_history: int) -> StoryGraph:
    """Draw as one node the steps with the same label and the same paths of ``max_history``
    steps from them (the step itself counted), as Rasa's ``--max-history`` does.

    Merging repeats until nothing changes, since every merge can make other
    steps alike. Two steps on one path are never merged: the drawing stays
    free of loops.
    """
    if max_history < 1:
        raise ValueError(f"max_history must be 1 or more, not {max_history}")
    label = {node.id: (node.kind, node.label) for node in graph.nodes}
    successors: dict[int, set[int]] = {node.id: set() for node in graph.nodes}
    for source, target in graph.edges:
        successors[source].add(target)
    while _merge_once(label, successors, max_history):
        pass
    return _renumbered(graph, label, successors)


def _merge_once(label: dict[int, tuple[str, str]], successors: dict[int, set[int]],
                max_history: int) -> bool:
    """Merge the alike steps found in one pass; whether any were merged."""
    memo: dict[tuple[int, int], frozenset[tuple[str, ...]]] = {}
    groups: dict[tuple, list[int]] = {}
    for node in sorted(successors):
        if node in (START, END):
            continue
        key = (label[node], _fingerprint(node, max_history, label, successors, memo))
        groups.setdefault(key, []).append(node)
    merged = False
    for nodes in groups.values():
        kept: list[int] = []
        for node in nodes:
            partner = next((k for k in kept if not _on_one_path(k, node, successors)), None)
            if partner is None:
                kept.append(node)
            else:
                _merge(partner, node, successors)
                merged = True
    return merged


def _fingerprint(node: int, length: int, label: dict[int, tuple[str, str]],
                 successors: dict[int, set[int]],
                 memo: dict[tuple[int, int], frozenset[tuple[str, ...]]],
                 ) -> frozenset[tuple[str, ...]]:
    """The label sequences of the paths of ``length`` steps from ``node`` (shorter at END)."""
    if (node, length) not in memo:
        own = (label[node][1],)
        if length == 1 or not successors[node]:
            memo[node, length] = frozenset({own})
        else:
            memo[node, length] = frozenset(
                own + rest for nxt in successors[node]
                for rest in _fingerprint(nxt, length - 1, label, successors, memo))
    return memo[node, length]


def _on_one_path(a: int, b: int, successors: dict[int, set[int]]) -> bool:
    return _reaches(a, b, successors) or _reaches(b, a, successors)


def _reaches(source: int, target: int, successors: dict[int, set[int]]) -> bool:
    seen, stack = {source}, [source]
    while stack:
        for nxt in successors[stack.pop()]:
            if nxt == target:
                return True
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def _merge(kept: int, gone: int, successors: dict[int, set[int]]) -> None:
    """Move ``gone``'s edges to ``kept`` and drop ``gone``."""
    successors[kept] |= successors.pop(gone)
    for targets in successors.values():
        if gone in targets:
            targets.discard(gone)
            targets.add(kept)


def _renumbered(graph: StoryGraph, label: dict[int, tuple[str, str]],
                successors: dict[int, set[int]]) -> StoryGraph:
    from dialogflowlite.dialogue.story_graph import Node, StoryGraph

    # the remaining ids keep their order, which follows the reading order of the stories
    ids = {old: new for new, old in enumerate(sorted(successors))}
    result = StoryGraph()
    for old, new in ids.items():
        kind, text = label[old]
        result.nodes.append(Node(new, text, kind))  # type: ignore[arg-type]
    result.edges = {(ids[s], ids[t]) for s, targets in successors.items() for t in targets}
    return result
