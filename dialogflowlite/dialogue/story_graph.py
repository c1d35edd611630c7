"""Stories as one graph (``dialogflowlite visualize``): where conversations branch and meet.

Every story path (stories joined through checkpoints, ``or`` steps expanded)
runs from START to END through its user intents, actions, slots and active
loops. The paths are put into a prefix tree, so stories that begin alike
share their first nodes, and the tree is then minimised: nodes with the
same label and the same continuations become one, so stories that end alike
share their last nodes too. What is left is small enough to read, and every
path through it is a path some story describes (nothing is invented).

:func:`graph_to_dot` writes Graphviz; :func:`graph_to_html` a self-contained
page with the graph drawn as SVG in layers (no scripts, nothing fetched).
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from dialogflowlite.shared.domain import ACTION_LISTEN
from dialogflowlite.shared.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from dialogflowlite.shared.stories import ANY_SLOT_VALUE
from dialogflowlite.shared.story_paths import StoryPath

NodeKind = Literal["start", "end", "user", "action", "slot", "loop"]


@dataclass(frozen=True)
class Node:
    """One step of the graph."""

    id: int
    label: str
    kind: NodeKind


@dataclass
class StoryGraph:
    """Nodes and directed edges; node 0 is START and node 1 is END."""

    nodes: list[Node] = field(default_factory=list)
    edges: set[tuple[int, int]] = field(default_factory=set)

    def successors(self, node: int) -> list[int]:
        return sorted(target for source, target in self.edges if source == node)

    def labels(self) -> list[str]:
        return [node.label for node in self.nodes]


def event_node(event: Event) -> tuple[NodeKind, str] | None:
    """The kind and label of an event's node, or None for events the graph leaves out."""
    if isinstance(event, UserUttered):
        entities = ", ".join(sorted({str(e.get("entity")) for e in event.entities}))
        label = event.intent_name or (f'"{event.text}"' if event.text else "?")
        return "user", f"{label} ({entities})" if entities else label
    if isinstance(event, ActionExecuted):
        if event.name == ACTION_LISTEN:
            return None
        if event.action_text:
            return "action", f'bot: "{event.action_text}"'
        return "action", event.name
    if isinstance(event, SlotSet):
        if event.value is None or event.value == ANY_SLOT_VALUE:
            return "slot", f"slot {event.name}"
        return "slot", f"slot {event.name} = {event.value}"
    if isinstance(event, ActiveLoop):
        return "loop", f"loop {event.name}" if event.name else "loop ends"
    return None


def build_story_graph(paths: Sequence[StoryPath]) -> StoryGraph:
    """The minimised graph of ``paths`` (see the module docstring)."""
    # 1. prefix tree: node -> {(kind, label): child}; -1 marks "ends here"
    kinds: list[NodeKind] = ["start"]
    labels: list[str] = ["START"]
    children: list[dict[tuple[NodeKind, str], int]] = [{}]
    ends: list[bool] = [False]
    for path in paths:
        current = 0
        for event in path.events:
            found = event_node(event)
            if found is None:
                continue
            child = children[current].get(found)
            if child is None:
                child = len(kinds)
                kinds.append(found[0])
                labels.append(found[1])
                children.append({})
                ends.append(False)
                children[current][found] = child
            current = child
        ends[current] = True

    # 2. minimise bottom-up: a node is its label and the set of what follows it
    signature_of: dict[int, int] = {}
    classes: dict[tuple, int] = {}

    def signature(node: int) -> int:
        if node in signature_of:
            return signature_of[node]
        key = (kinds[node], labels[node], ends[node],
               frozenset(signature(child) for child in children[node].values()))
        signature_of[node] = classes.setdefault(key, len(classes))
        return signature_of[node]

    stack = [0]
    order: list[int] = []
    while stack:  # iterative post-order, so long stories do not hit the recursion limit
        node = stack.pop()
        order.append(node)
        stack.extend(children[node].values())
    for node in reversed(order):
        signature(node)

    graph = StoryGraph([Node(0, "START", "start"), Node(1, "END", "end")])
    ids: dict[int, int] = {signature_of[0]: 0}
    for node in order:  # parents before children: ids follow the reading order
        cls = signature_of[node]
        if cls not in ids:
            ids[cls] = len(graph.nodes)
            graph.nodes.append(Node(ids[cls], labels[node], kinds[node]))
    for node in order:
        source = ids[signature_of[node]]
        for child in children[node].values():
            graph.edges.add((source, ids[signature_of[child]]))
        if ends[node]:
            graph.edges.add((source, 1))
    return graph


# ---------------------------------------------------------------- output

#: the fill of highlighted nodes
_HIGHLIGHT = "#fff59d"

_COLOURS: dict[NodeKind, str] = {
    "start": "#2e7d32", "end": "#c62828", "user": "#1565c0", "action": "#424242",
    "slot": "#6a1b9a", "loop": "#ef6c00",
}


def graph_to_dot(graph: StoryGraph, title: str = "stories") -> str:
    """The graph in Graphviz's DOT language (``dot -Tsvg graph.dot > graph.svg``)."""
    lines = [f"digraph {_dot_id(title)} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded", fontname="Helvetica"];']
    for node in graph.nodes:
        shape = ', shape=ellipse' if node.kind in ("start", "end") else ""
        lines.append(f"  n{node.id} [label={_dot_id(node.label)}, "
                     f'color="{_COLOURS[node.kind]}"{shape}];')
    lines += [f"  n{source} -> n{target};" for source, target in sorted(graph.edges)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def path_nodes(graph: StoryGraph, events: Sequence[Event]) -> frozenset[int]:
    """The nodes that ``events`` (a path the graph was built from) passes through.

    The next node of a step is the successor with the step's label: in the
    minimised graph no node has two successors with the same label.
    """
    label_of = {node.id: (node.kind, node.label) for node in graph.nodes}
    current, seen = 0, {0}
    for event in events:
        found = event_node(event)
        if found is None:
            continue
        following = [n for n in graph.successors(current) if label_of[n] == found]
        if not following:
            break
        current = following[0]
        seen.add(current)
    return frozenset(seen)


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def layers(graph: StoryGraph) -> list[list[int]]:
    """Nodes by layer: each node one below its lowest predecessor (END last)."""
    depth = {0: 0}
    incoming: dict[int, list[int]] = defaultdict(list)
    outgoing: dict[int, list[int]] = defaultdict(list)
    for source, target in graph.edges:
        incoming[target].append(source)
        outgoing[source].append(target)
    waiting = {node.id: len(incoming[node.id]) for node in graph.nodes}
    ready = [0]
    while ready:  # longest path from START, in topological order (the graph has no cycles)
        node = ready.pop()
        for target in outgoing[node]:
            depth[target] = max(depth.get(target, 0), depth[node] + 1)
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    last = max(depth.values(), default=0)
    depth[1] = max(last, depth.get(1, 0))
    rows: list[list[int]] = [[] for _ in range(depth[1] + 1)]
    for node in graph.nodes:
        rows[depth.get(node.id, 0)].append(node.id)
    # order each row by the mean position of its predecessors: fewer crossing lines
    position: dict[int, float] = {0: 0.0}
    for row in rows[1:]:
        row.sort(key=lambda n: (sum(position.get(p, 0.0) for p in incoming[n])
                                / max(1, len(incoming[n])), n))
        position.update({n: float(i) for i, n in enumerate(row)})
    return [row for row in rows if row]


def graph_to_html(graph: StoryGraph, title: str = "Stories", *,
                  highlight: frozenset[int] = frozenset(), note: str = "",
                  refresh_seconds: int | None = None) -> str:
    """A self-contained HTML page with the graph as SVG.

    ``highlight`` names nodes drawn filled (a conversation's path), ``note`` is
    a line of text under the legend, and ``refresh_seconds`` makes the browser
    reload the page that often (a graph that grows while it is watched).
    """
    box_w, box_h, gap_x, gap_y, margin = 190, 34, 24, 56, 20
    rows = layers(graph)
    width = max(len(row) for row in rows) * (box_w + gap_x) + 2 * margin
    height = len(rows) * (box_h + gap_y) + 2 * margin
    centre: dict[int, tuple[float, float]] = {}
    for r, row in enumerate(rows):
        offset = (width - len(row) * (box_w + gap_x) + gap_x) / 2
        for i, node in enumerate(row):
            centre[node] = (offset + i * (box_w + gap_x) + box_w / 2,
                            margin + r * (box_h + gap_y) + box_h / 2)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
             f'height="{height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#888"/>'
             '</marker></defs>']
    for source, target in sorted(graph.edges):
        (x1, y1), (x2, y2) = centre[source], centre[target]
        parts.append(f'<line x1="{x1:.0f}" y1="{y1 + box_h / 2:.0f}" x2="{x2:.0f}" '
                     f'y2="{y2 - box_h / 2:.0f}" stroke="#888" marker-end="url(#arrow)"/>')
    for node in graph.nodes:
        x, y = centre[node.id]
        colour = _COLOURS[node.kind]
        radius = box_h / 2 if node.kind in ("start", "end") else 6
        label = node.label if len(node.label) <= 28 else node.label[:27] + "…"
        parts.append(
            f'<g class="{node.kind}"><title>{html.escape(node.label)}</title>'
            f'<rect x="{x - box_w / 2:.0f}" y="{y - box_h / 2:.0f}" width="{box_w}" '
            f'height="{box_h}" rx="{radius:.0f}" '
            f'fill="{_HIGHLIGHT if node.id in highlight else "white"}" stroke="{colour}" '
            f'stroke-width="2"/><text x="{x:.0f}" y="{y + 4:.0f}" text-anchor="middle" '
            f'fill="{colour}">{html.escape(label)}</text></g>')
    parts.append("</svg>")
    legend = " ".join(f'<span style="color:{_COLOURS[kind]}">&#9632; {name}</span>'
                      for kind, name in (("user", "user intent"), ("action", "action"),
                                         ("slot", "slot set"), ("loop", "active loop")))
    refresh = (f'<meta http-equiv="refresh" content="{refresh_seconds}">'
               if refresh_seconds else "")
    note_line = f"<p>{html.escape(note)}</p>" if note else ""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"{refresh}<title>{html.escape(title)}</title></head>\n"
            '<body style="font-family: Helvetica, Arial, sans-serif">'
            f"<h1>{html.escape(title)}</h1><p>{legend}</p>{note_line}\n"
            + "\n".join(parts) + "\n</body></html>\n")
