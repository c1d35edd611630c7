"""Every Rasa example project under ../shared/data/rasa_projects loads and validates.

The expected counts were taken from the YAML files themselves, independently
of the loader: intents, entities, slots and forms are the entries of those
domain sections; responses are the keys under every ``responses:`` (domain
and data files); examples are the ``- `` lines of ``examples: |`` blocks of
``- intent:`` items (not synonyms or lookups); stories, rules and test stories
are the ``- story:`` / ``- rule:`` items under data/ and tests/.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from dialogflowlite.errors import Problem
from dialogflowlite.io.loader import load_project
from dialogflowlite.io.validate import validate_project

pytestmark = pytest.mark.shared_data

FIELDS = (
    "intents",
    "examples",
    "entities",
    "slots",
    "forms",
    "responses",
    "stories",
    "rules",
    "test_stories",
)

EXPECTED = {
    "concertbot": (11, 29, 1, 3, 0, 7, 6, 5, 0),
    "financial_demo": (22, 578, 10, 24, 3, 51, 19, 20, 48),
    "formbot": (9, 288, 4, 6, 1, 17, 2, 6, 3),
    "initial_project_3x": (7, 68, 0, 0, 0, 6, 3, 2, 7),
    "knowledgebasebot": (4, 44, 7, 7, 0, 4, 1, 4, 0),
    "moodbot": (7, 68, 0, 0, 0, 6, 3, 2, 0),
    "reminderbot": (8, 35, 2, 1, 0, 2, 1, 7, 0),
    "responseselectorbot": (8, 76, 0, 0, 0, 8, 3, 3, 0),
    "rules": (11, 289, 1, 2, 1, 13, 0, 13, 0),
}


@cache
def validated(root: Path) -> tuple[Problem, ...]:
    """The problems of one project, computed once per test session."""
    return tuple(validate_project(load_project(root, strict=False)))


def test_every_project_is_covered(rasa_projects: Path) -> None:
    found = sorted(p.name for p in rasa_projects.iterdir() if p.is_dir())
    assert found == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts(rasa_projects: Path, name: str) -> None:
    project = load_project(rasa_projects / name)
    counts = project.counts()
    assert {f: counts[f] for f in FIELDS} == dict(zip(FIELDS, EXPECTED[name], strict=True))
    # Nothing the loader meets in these files is an error.
    assert project.errors == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate_names_file_and_line_of_every_problem(rasa_projects: Path, name: str) -> None:
    root = rasa_projects / name
    for problem in validated(root):
        assert problem.severity in ("error", "warning")
        assert Path(problem.position.file).is_file(), str(problem)
        assert root.resolve() in Path(problem.position.file).resolve().parents, str(problem)
        assert problem.position.line is not None, str(problem)
        assert str(problem).startswith(f"{problem.position.file}:{problem.position.line}:")


def test_what_loads_from_the_details(rasa_projects: Path) -> None:
    formbot = load_project(rasa_projects / "formbot").domain
    assert formbot.slots["cuisine"].type == "text"  # rasa.shared.core.slots.TextSlot
    assert formbot.slots["num_people"].type == "float"
    assert formbot.forms["restaurant_form"].required_slots == [
        "cuisine",
        "feedback",
        "num_people",
        "outdoor_seating",
        "preferences",
    ]
    [number] = formbot.slots["num_people"].mappings
    assert (number.entity, number.intent) == ("number", ["inform", "request_restaurant"])

    selector = load_project(rasa_projects / "responseselectorbot")
    assert selector.nlu.retrieval_intents == ["chitchat"]
    assert selector.domain.retrieval_intents == ["chitchat"]

    knowledge = load_project(rasa_projects / "knowledgebasebot").nlu
    assert [(t.name, len(t.elements)) for t in knowledge.lookups] == [
        ("restaurant", 7),
        ("hotel", 6),
    ]

    financial = load_project(rasa_projects / "financial_demo")
    assert [s.value for s in financial.nlu.synonyms] == ["credit", "emblem", "current balance"]
    assert financial.domain.session_config.session_expiration_time == 0
    assert financial.domain.intents["check_balance"].use_entities == ["credit_card", "account_type"]


def test_findings_in_the_example_projects(rasa_projects: Path) -> None:
    def codes(name: str, code: str) -> list[str]:
        return [p.message for p in validated(rasa_projects / name) if p.code == code]

    # moodbot teaches "good afternoon" as both a greeting and a goodbye.
    assert codes("moodbot", "DFL118") == [
        "example 'good afternoon' is under intent 'goodbye' and also under 'greet' at "
        f"{rasa_projects / 'moodbot/data/nlu.yml'}:17:7"
    ]
    # reminderbot declares EXT_reminder, which nothing can trigger; EXTERNAL_* intents are fine.
    assert codes("reminderbot", "DFL121") == [
        "intent 'EXT_reminder' has no NLU examples, so no message is classified as it"
    ]
    # The rules project reuses formbot's NLU data, whose intents its domain lacks.
    assert len(codes("rules", "DFL123")) == 5
    # None of the projects has contradicting stories or stories naming unknown things.
    for name in EXPECTED:
        for code in ("DFL111", "DFL112", "DFL113", "DFL114", "DFL115", "DFL116", "DFL119"):
            assert codes(name, code) == [], (name, code)
