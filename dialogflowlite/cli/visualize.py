"""``dialogflowlite visualize``: the project's stories as one graph (Rasa's ``rasa visualize``).

The graph itself comes from :mod:`dialogflowlite.dialogue.story_graph`. Two
of Rasa's options change the drawing here: ``--max-history N`` draws steps
with the same label and the same next steps as one node (a smaller graph, as
Rasa draws it), and ``--nlu`` labels user steps with an example message
instead of the intent name.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.cli.command import Command

if TYPE_CHECKING:
    from dialogflowlite.dialogue.story_graph import StoryGraph
    from dialogflowlite.shared.events import Event
    from dialogflowlite.shared.story_paths import StoryPath
    from dialogflowlite.shared.training_data import TrainingData

#: the ids of the START and END nodes of a :class:`StoryGraph`
START, END = 0, 1


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=".", metavar="DIR",
                        help="the project folder (default: the current folder)")
    parser.add_argument("-s", "--stories", default=None, metavar="PATH",
                        help="a stories file or folder instead of the project's data/ "
                             "(its rules too, with --rules)")
    parser.add_argument("-d", "--domain", default=None, metavar="PATH",
                        help="a domain file or folder instead of the project's (its slots and "
                             "forms shape the story paths)")
    parser.add_argument("-c", "--config", default=None, metavar="FILE",
                        help="a config file read instead of config.yml; the drawing does not "
                             "depend on the pipeline or policies, so this only changes which "
                             "file must be valid")
    parser.add_argument("-u", "--nlu", default=None, metavar="PATH",
                        help="NLU data (file or folder): user steps are drawn as the first "
                             "example of their intent with the same entities, not as the "
                             "intent name")
    parser.add_argument("--max-history", type=_positive, default=None, metavar="N",
                        help="draw steps with the same label as one node when the paths of N "
                             "steps starting at them are alike, as Rasa does (its default is "
                             "2): smaller, but it may show paths no story has (default: merge "
                             "only what every story path keeps exactly)")
    parser.add_argument("--rules", action="store_true",
                        help="draw the rules too (their conditions are left out)")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="where to write the graph (default: graph.html, or graph.dot "
                             "with --format dot)")
    parser.add_argument("--format", choices=("html", "dot"), default=None,
                        help="html: a page with the graph drawn (default); dot: Graphviz "
                             "(default: from --out's suffix)")


def visualize(project_dir: str | Path = ".", *, stories: str | Path | None = None,
              rules: bool = False, out: str | Path | None = None,
              fmt: str | None = None, domain: str | Path | None = None,
              config: str | Path | None = None, nlu: str | Path | None = None,
              max_history: int | None = None) -> Path:
    """Write the graph of the project's stories (or of ``stories``); returns the file.

    ``domain`` and ``config`` are read instead of the project's; ``nlu``
    labels user steps with example messages (:func:`with_examples`);
    ``max_history`` merges alike steps (:func:`merge_alike_steps`).
    """
    from dialogflowlite.dialogue.story_graph import build_story_graph, graph_to_dot, graph_to_html
    from dialogflowlite.errors import ProjectError
    from dialogflowlite.evaluation.nlu import load_nlu_data
    from dialogflowlite.io.loader import ProjectSources, load_project, resolve_in_project
    from dialogflowlite.shared.story_paths import expand_story_paths

    if stories is not None:
        _must_exist(stories, project_dir, "stories", "--stories")
    sources = ProjectSources(domain=domain, config=config,
                             data=(stories,) if stories is not None else None)
    project = load_project(project_dir, sources=sources)
    chosen = list(project.stories) + (list(project.rules) if rules else [])
    if not chosen:
        raise ProjectError("there are no stories to draw",
                           hint="add stories under data/, pass --stories, or add --rules")
    paths = expand_story_paths(chosen, domain=project.domain)
    if nlu is not None:
        paths = with_examples(paths, load_nlu_data(resolve_in_project(nlu, project.root)))
    graph = build_story_graph(paths)
    if max_history is not None:
        graph = merge_alike_steps(graph, max_history)
    fmt = fmt or ("dot" if out is not None and str(out).endswith(".dot") else "html")
    target = Path(out) if out is not None else project.root / f"graph.{fmt}"
    title = f"Stories of {project.root.resolve().name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(graph_to_dot(graph, title) if fmt == "dot" else graph_to_html(graph, title),
                      encoding="utf-8")
    print(f"{len(chosen)} stories drawn as {len(graph.nodes)} steps into {target}")
    return target


def _must_exist(path: str | Path, project_dir: str | Path, what: str, option: str) -> None:
    # the loader would name --data, which the user did not type
    from dialogflowlite.errors import ProjectNotFoundError
    from dialogflowlite.io.loader import resolve_in_project

    if not resolve_in_project(path, project_dir).exists():
        raise ProjectNotFoundError(f"the {what} {path} do not exist",
                                   hint=f"check the path given to {option}")


# ---------------------------------------------------------------- --nlu


def example_text(data: TrainingData, intent: str, entities: Sequence[dict[str, Any]]) -> str | None:
    """The first example of ``intent`` that holds every entity of ``entities``, or None.

    An entity matches one of the same type, and of the same value when the
    story gives one. ``intent`` may be a retrieval intent (``faq/ask_hours``).
    """
    for message in data.examples:
        if intent not in (message.intent, message.base_intent):
            continue
        if all(_holds(message.entities, wanted) for wanted in entities):
            return message.text
    return None


def _holds(found: Sequence[Any], wanted: dict[str, Any]) -> bool:
    value = wanted.get("value")
    return any(e.entity == wanted.get("entity") and (value is None or str(e.value) == str(value))
               for e in found)


def with_examples(paths: Sequence[StoryPath], data: TrainingData) -> list[StoryPath]:
    """The paths with each user step's intent replaced by an example message (see above).

    A step no example fits keeps its own text, or else its intent.
    """
    return [replace(path, events=[_as_example(event, data) for event in path.events])
            for path in paths]


def _as_example(event: Event, data: TrainingData) -> Event:
    from dialogflowlite.shared.events import UserUttered

    if not isinstance(event, UserUttered) or not event.intent_name:
        return event
    intent = event.parse_data["intent"].get("full_retrieval_intent_name") or event.intent_name
    text = example_text(data, intent, event.entities) or event.text
    if text is None:
        return event
    # without an intent the graph labels the step by its text
    return UserUttered(text=text, parse_data={"entities": event.entities},
                       timestamp=event.timestamp)


# ---------------------------------------------------------------- --max-history


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


def _run(args: argparse.Namespace) -> int:
    visualize(args.project, stories=args.stories, rules=args.rules, out=args.out,
              fmt=args.format, domain=args.domain, config=args.config, nlu=args.nlu,
              max_history=args.max_history)
    return 0


COMMAND = Command(
    name="visualize",
    help="draw the stories as one graph (graph.html, or Graphviz with --format dot)",
    description="Draw every story path from START to END in one graph: stories that begin "
    "or end alike share those steps. Writes a self-contained HTML page (graph.html) or a "
    "Graphviz file.",
    add_arguments=_add_arguments,
    run=_run,
)
