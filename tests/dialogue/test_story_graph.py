"""Stories as one graph: shared beginnings and endings merged, nothing invented."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from dialogflowlite.cli.main import main
from dialogflowlite.dialogue.story_graph import (
    build_story_graph,
    graph_to_dot,
    graph_to_html,
    layers,
)
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.story_paths import expand_story_paths

DOMAIN = """
version: "3.1"
intents: [greet, mood_great, mood_unhappy, affirm, deny, goodbye]
slots:
  mood:
    type: text
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: "Hey! How are you?"}]
  utter_happy: [{text: "Great!"}]
  utter_cheer_up: [{text: "Here is something to cheer you up."}]
  utter_did_that_help: [{text: "Did that help?"}]
  utter_goodbye: [{text: "Bye"}]
"""

STORIES = """
version: "3.1"
stories:
- story: happy path
  steps:
  - intent: greet
  - action: utter_greet
  - intent: mood_great
  - action: utter_happy
  - intent: goodbye
  - action: utter_goodbye
- story: sad path
  steps:
  - intent: greet
  - action: utter_greet
  - intent: mood_unhappy
  - slot_was_set:
    - mood: sad
  - action: utter_cheer_up
  - action: utter_did_that_help
  - or:
    - intent: affirm
    - intent: deny
  - action: utter_goodbye
"""

RULES = """
version: "3.1"
rules:
- rule: bye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in {"domain.yml": DOMAIN, "data/stories.yml": STORIES,
                       "data/rules.yml": RULES,
                       "config.yml": "language: en\npipeline: []\npolicies: []\n"}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return tmp_path


def _graph(project: Path):
    loaded = load_project(project)
    return build_story_graph(expand_story_paths(loaded.stories, domain=loaded.domain))


def _by_label(graph) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for node in graph.nodes:
        found.setdefault(node.label, []).append(node.id)
    return found


def test_shared_beginnings_and_endings_are_one_node(project: Path) -> None:
    graph = _graph(project)
    nodes = _by_label(graph)
    # both stories start with greet -> utter_greet
    assert len(nodes["greet"]) == 1 and len(nodes["utter_greet"]) == 1
    # the or-step's two intents both lead to the same final utter_goodbye ... END
    assert nodes["affirm"] and nodes["deny"]
    after = {graph.successors(nodes["affirm"][0])[0], graph.successors(nodes["deny"][0])[0]}
    assert len(after) == 1
    # goodbye -> utter_goodbye ends the happy path; the sad path's utter_goodbye also ends:
    # with the same continuation (END) they are merged
    assert len(nodes["utter_goodbye"]) == 1
    assert graph.successors(nodes["utter_goodbye"][0]) == [1]
    assert nodes["slot mood = sad"]
    assert (0, nodes["greet"][0]) in graph.edges  # START -> greet
    assert all(node.label != "action_listen" for node in graph.nodes)


def test_every_path_through_the_graph_is_a_story_path(project: Path) -> None:
    graph = _graph(project)
    labels = {node.id: node.label for node in graph.nodes}

    def walk(node: int, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        if node == 1:
            return [prefix]
        return [path for nxt in graph.successors(node)
                for path in walk(nxt, prefix + ((labels[nxt],) if nxt != 1 else ()))]

    walked = sorted(walk(0, ()))
    assert walked == sorted([
        ("greet", "utter_greet", "mood_great", "utter_happy", "goodbye", "utter_goodbye"),
        ("greet", "utter_greet", "mood_unhappy", "slot mood = sad", "utter_cheer_up",
         "utter_did_that_help", "affirm", "utter_goodbye"),
        ("greet", "utter_greet", "mood_unhappy", "slot mood = sad", "utter_cheer_up",
         "utter_did_that_help", "deny", "utter_goodbye"),
    ])


def test_layers_put_each_node_below_its_predecessors(project: Path) -> None:
    graph = _graph(project)
    row_of = {node: r for r, row in enumerate(layers(graph)) for node in row}
    assert row_of[0] == 0 and row_of[1] == max(row_of.values())
    assert all(row_of[source] < row_of[target] for source, target in graph.edges)


def test_html_and_dot_outputs(project: Path) -> None:
    graph = _graph(project)
    page = graph_to_html(graph, "Stories of <bot>")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "Stories of &lt;bot&gt;" in page
    assert page.count("<rect") == len(graph.nodes)
    assert page.count("<line") == len(graph.edges)
    dot = graph_to_dot(graph)
    assert dot.startswith('digraph "stories" {') and dot.rstrip().endswith("}")
    assert len(re.findall(r"n\d+ -> n\d+;", dot)) == len(graph.edges)
    assert '"slot mood = sad"' in dot


def test_the_command_writes_the_file(project: Path, capsys) -> None:
    assert main(["visualize", "--project", str(project)]) == 0
    page = (project / "graph.html").read_text(encoding="utf-8")
    assert "utter_cheer_up" in page and "bye" not in re.sub(r"goodbye", "", page)
    assert "2 stories drawn" in capsys.readouterr().out
    out = project / "out" / "g.dot"
    assert main(["visualize", "--project", str(project), "--rules", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("digraph")
    assert "2 stories and 1 rule drawn" in capsys.readouterr().out


def test_nothing_to_draw_is_a_clear_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "domain.yml").write_text('version: "3.1"\nintents: [greet]\n')
    (tmp_path / "config.yml").write_text("language: en\npipeline: []\npolicies: []\n")
    assert main(["visualize", "--project", str(tmp_path)]) == 1
    assert "no stories to draw" in capsys.readouterr().err
