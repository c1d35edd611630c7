"""Stories and rules written back as YAML read back to the same steps."""

from __future__ import annotations

from pathlib import Path

from plain_data import plain

from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.io.story_reader import StoryReader
from dialogflowlite.io.story_writer import stories_and_rules_yaml, write_stories_and_rules
from dialogflowlite.io.yaml import read_yaml_file
from dialogflowlite.shared.stories import ANY_SLOT_VALUE, SlotStep

RICH_STORIES = """
version: "3.1"
stories:
- story: "yes: a story with every kind of step"
  metadata: {author: ana}
  steps:
  - intent: "yes"
    entities:
    - city: "1984"
    - entity: city
      value: Oslo
      role: to
      group: "2"
    - entity: entity
      value: x
    - count
  - action: utter_ask
  - bot: "Where to, \\"traveller\\"?"
  - user: |
      to [Rome](city) and [NYC]{"entity": "city", "value": "New York"}
    intent: inform
    entities:
    - seats: 2
  - slot_was_set:
    - city: Rome
    - booked
    - details: {seats: 2, bags: [a, b]}
  - active_loop: trip_form
  - active_loop: null
  - or:
    - intent: affirm
    - slot_was_set:
      - confirmed: true
  - checkpoint: done
    slot_was_set:
    - booked: true
rules:
- rule: at the start
  conversation_start: true
  condition:
  - slot_was_set:
    - city: null
  - active_loop: trip_form
  steps:
  - intent: greet
  - action: utter_greet
  wait_for_user_input: false
- rule: empty
  steps: []
"""


def read(path: Path) -> list:
    log = ProblemLog()
    data = read_yaml_file(path)
    found = []
    for key in ("stories", "rules"):
        found += StoryReader(log).read(path, data, key, data.get(key), "story")
    # the one remark: the empty rule, kept to show that it is written back as one
    assert [p.message for p in log.problems] == [
        "rule 'empty' has no steps (`steps: []`), so it teaches nothing"]
    return found


def test_every_step_reads_back_the_same(tmp_path: Path) -> None:
    source = tmp_path / "stories.yml"
    source.write_text(RICH_STORIES, encoding="utf-8")
    original = read(source)
    assert len(original) == 3
    written = write_stories_and_rules(original, tmp_path / "out" / "again.yml")
    assert plain(read(written)) == plain(original)
    slots = next(s for s in original[0].steps if isinstance(s, SlotStep))
    assert slots.slots["booked"] == ANY_SLOT_VALUE
    assert original[0].steps[-1].slot_conditions == {"booked": True}


def test_only_the_sections_in_use_are_written() -> None:
    assert stories_and_rules_yaml([]) == 'version: "3.1"\n\nstories: []\n'
