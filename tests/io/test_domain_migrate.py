"""Rewriting a 2.0 domain in the 3.x format: what each 2.0 construct becomes, and that it
loads to the same domain."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from dialogflowlite.errors import ProjectError, ProjectValidationError
from dialogflowlite.io import domain_migrate
from dialogflowlite.io.domain_migrate import (
    DomainMigration,
    backup_path,
    domain_meaning,
    migrate_domain,
    write_migration,
)
from dialogflowlite.io.loader import load_project
from dialogflowlite.io.yaml import read_yaml, to_plain

RASA_2_PROJECTS = ("concertbot", "formbot", "knowledgebasebot", "moodbot", "reminderbot",
                   "responseselectorbot", "rules")
RASA_3_PROJECTS = ("financial_demo", "initial_project_3x")


def write(folder: Path, relative: str, text: str) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def migrated(tmp_path: Path, text: str) -> tuple[dict, str, DomainMigration]:
    """Migrate one domain file; returns the new file as plain data, its text and the migration."""
    source = write(tmp_path, "domain.yml", text)
    migration = migrate_domain(source)
    (new,) = migration.files
    return to_plain(read_yaml(new.text)), new.text, migration


def loaded_domain(root: Path) -> dict:
    return domain_meaning(load_project(root, strict=False).domain)


# ---------------------------------------------------------------- form mappings


def test_form_mappings_move_to_their_slots_with_the_forms_condition(tmp_path: Path) -> None:
    new, _, _ = migrated(tmp_path, """
        version: "2.0"
        intents: [inform, affirm, deny, go, chitchat]
        entities:
          - number
          - city:
              roles: [from, to]
              groups: ["1"]
        slots:
          people: {type: float}
          city: {type: text}
          happy: {type: bool}
          note: {type: text}
          started: {type: bool}
          extra: {type: text}
        forms:
          booking_form:
            required_slots:
              people:
              - type: from_entity
                entity: number
                intent: [inform]
                not_intent: chitchat
              city:
              - type: from_entity
                entity: city
                role: to
                group: "1"
              happy:
              - type: from_intent
                intent: affirm
                value: true
              - type: from_intent
                intent: deny
                value: false
              note:
              - type: from_text
                not_intent: [chitchat]
              started:
              - type: from_trigger_intent
                intent: go
                value: true
              extra:
              - type: custom
                action: action_extra
        """)
    slots = new["slots"]
    in_form = {"active_loop": "booking_form"}

    def asked(slot: str) -> list:
        return [{"active_loop": "booking_form", "requested_slot": slot}]

    # 2.0 forms fill any of their slots from entities; most others only when the slot is
    # asked for
    assert slots["people"]["mappings"] == [{"type": "from_entity", "entity": "number",
                                            "intent": ["inform"], "not_intent": "chitchat",
                                            "conditions": [in_form]}]
    # (the slot named after an entity keeps 2.0's auto-fill, from any message)
    assert slots["city"]["mappings"] == [{"type": "from_entity", "entity": "city", "role": "to",
                                          "group": "1", "conditions": [in_form]},
                                         {"type": "from_entity", "entity": "city"}]
    assert slots["happy"]["mappings"] == [
        {"type": "from_intent", "intent": "affirm", "value": True, "conditions": asked("happy")},
        {"type": "from_intent", "intent": "deny", "value": False, "conditions": asked("happy")},
    ]
    assert slots["note"]["mappings"] == [{"type": "from_text", "not_intent": ["chitchat"],
                                          "conditions": asked("note")}]
    # and from their trigger intent when they start, with no slot asked (as Rasa's migrate)
    assert slots["started"]["mappings"] == [{"type": "from_trigger_intent", "intent": "go",
                                             "value": True, "conditions": [in_form]}]
    assert slots["extra"]["mappings"] == [{"type": "custom", "action": "action_extra",
                                           "conditions": asked("extra")}]
    assert new["forms"] == {"booking_form": {"required_slots": [
        "people", "city", "happy", "note", "started", "extra"]}}
    assert new["version"] == "3.1"


def test_a_mapping_with_an_entity_and_no_type_is_written_as_from_entity(tmp_path: Path) -> None:
    new, _, _ = migrated(tmp_path, """
        version: "2.0"
        entities: [number]
        slots:
          people: {type: float, auto_fill: false}
        forms:
          f:
            required_slots:
              people:
              - entity: number
        """)
    assert new["slots"]["people"]["mappings"] == [
        {"type": "from_entity", "entity": "number", "conditions": [{"active_loop": "f"}]}]


def test_forms_without_required_slots_and_empty_forms(tmp_path: Path) -> None:
    new, _, _ = migrated(tmp_path, """
        version: "2.0"
        intents: [chitchat]
        slots:
          note: {type: text}
          other: {type: text}
        forms:
          old_style:
            note:
            - type: from_text
            other:
            ignored_intents: [chitchat]
          empty_one:
          empty_two: {}
        """)
    assert new["forms"] == {
        "old_style": {"required_slots": ["note", "other"], "ignored_intents": ["chitchat"]},
        "empty_one": {"required_slots": []},
        "empty_two": {"required_slots": []},
    }
    assert new["slots"]["note"]["mappings"] == [
        {"type": "from_text", "conditions": [{"active_loop": "old_style",
                                              "requested_slot": "note"}]}]
    assert new["slots"]["other"]["mappings"] == []


def test_a_slot_of_two_forms_gets_a_mapping_per_form(tmp_path: Path) -> None:
    new, _, _ = migrated(tmp_path, """
        version: "2.0"
        slots:
          name: {type: text}
        forms:
          first:
            required_slots:
              name: [{type: from_text}]
          second:
            required_slots:
              name: [{type: from_text}]
        """)
    assert [m["conditions"] for m in new["slots"]["name"]["mappings"]] == [
        [{"active_loop": "first", "requested_slot": "name"}],
        [{"active_loop": "second", "requested_slot": "name"}],
    ]


# ---------------------------------------------------------------- slots


def test_auto_fill_becomes_a_from_entity_mapping(tmp_path: Path) -> None:
    new, _, migration = migrated(tmp_path, """
        version: "2.0"
        entities:
          - city
          - seat:
              roles: [window, aisle]
          - cuisine
          - number
        slots:
          city:
            type: text
          seat:
            type: text
            auto_fill: true
          cuisine:
            type: text
            auto_fill: false
          people:
            type: float
        """)
    slots = new["slots"]
    assert slots["city"] == {"type": "text",
                             "mappings": [{"type": "from_entity", "entity": "city"}]}
    assert slots["seat"] == {"type": "text",
                             "mappings": [{"type": "from_entity", "entity": "seat"}]}
    # auto_fill: false, or no entity of that name: no mapping; auto_fill itself goes
    assert slots["cuisine"] == {"type": "text", "mappings": []}
    assert slots["people"] == {"type": "float", "mappings": []}
    assert any("slot 'city' was filled from the entity of the same name" in note
               for note in migration.notes)
    assert any("domain.yml:14:3: slot 'cuisine' has no mappings" in note
               for note in migration.notes)


def test_auto_fill_keeps_filling_everywhere_where_a_form_fills_the_slot_from_its_entity(
    tmp_path: Path,
) -> None:
    # The form's mapping applies only while the form runs; 2.0's auto-fill fills the
    # slot from any message, so the migrated slot keeps a mapping without conditions.
    new, _, _ = migrated(tmp_path, """
        version: "2.0"
        entities: [city]
        slots:
          city: {type: text}
          town: {type: text}
        forms:
          f:
            required_slots:
              city: [{type: from_entity, entity: city}]
              town: [{type: from_entity, entity: town}]
        """)
    assert new["slots"]["city"]["mappings"] == [
        {"type": "from_entity", "entity": "city", "conditions": [{"active_loop": "f"}]},
        {"type": "from_entity", "entity": "city"}]
    # no entity `town`: nothing to auto-fill from
    assert new["slots"]["town"]["mappings"] == [
        {"type": "from_entity", "entity": "town", "conditions": [{"active_loop": "f"}]}]


def test_store_entities_as_slots_false_turns_auto_fill_off(tmp_path: Path) -> None:
    new, _, _ = migrated(tmp_path, """
        version: "2.0"
        config:
          store_entities_as_slots: false
        entities: [city]
        slots:
          city: {type: text}
        """)
    assert new["slots"]["city"] == {"type": "text", "mappings": []}
    assert new["config"] == {"store_entities_as_slots": False}


@pytest.mark.parametrize(("config", "auto_fill"), [("", "no"), ("", "'false'"),
                                                   ("config: {store_entities_as_slots: off}",
                                                    "true")])
def test_auto_fill_off_written_as_a_word_adds_no_mapping(tmp_path: Path, config: str,
                                                         auto_fill: str) -> None:
    # YAML 1.2 reads `no`, `off` and quoted words as text, which Python calls true
    new, _, _ = migrated(tmp_path, f"""
        version: "2.0"
        {config}
        entities: [city]
        slots:
          city: {{type: text, auto_fill: {auto_fill}}}
        """)
    assert new["slots"]["city"] == {"type": "text", "mappings": []}


def test_slot_types_and_influence_keep_their_2_0_meaning(tmp_path: Path) -> None:
    new, _, migration = migrated(tmp_path, """
        version: "2.0"
        slots:
          untyped:
            initial_value: 3
          unfeaturized:
            type: unfeaturized
          unfeaturized_class:
            type: rasa.shared.core.slots.UnfeaturizedSlot
          class_path:
            type: rasa.shared.core.slots.TextSlot
            influence_conversation: false
          quiet:
            type: categorical
            values: [a, b]
            influence_conversation: false
        """)
    slots = new["slots"]
    # 2.0 read a slot without a type as unfeaturized, which 3.x calls `any`
    assert slots["untyped"] == {"type": "any", "initial_value": 3, "mappings": []}
    assert slots["unfeaturized"] == slots["unfeaturized_class"] == {"type": "any",
                                                                     "mappings": []}
    assert slots["class_path"] == {"type": "rasa.shared.core.slots.TextSlot",
                                   "influence_conversation": False, "mappings": []}
    assert slots["quiet"]["influence_conversation"] is False
    assert any("slot 'untyped' has no type" in note for note in migration.notes)


def test_slot_mappings_already_on_a_slot_stay_first(tmp_path: Path) -> None:
    new, _, _ = migrated(tmp_path, """
        version: "2.0"
        entities: [name]
        slots:
          name:
            type: text
            mappings:
            - type: from_text
              intent: tell_name
        forms:
          f:
            required_slots:
              name: [{type: from_text}]
        """)
    # no auto-fill beside 3.x mappings: the reader adds none there either
    assert new["slots"]["name"]["mappings"] == [
        {"type": "from_text", "intent": "tell_name"},
        {"type": "from_text", "conditions": [{"active_loop": "f", "requested_slot": "name"}]},
    ]


# ---------------------------------------------------------------- what stays


DOMAIN_WITH_COMMENTS = """
# A 2.0 domain with comments everywhere.
version: '2.0'  # the format

intents:
  - greet   # hello
  - inform

entities:
  - city

slots:
  # where to go
  city:
    type: text   # any text

  # how many of them
  people:
    type: float
    initial_value: null

# Responses come next.
responses:
  utter_greet:
    - text: "Hello!"   # the greeting
  utter_ask_people:
    - text: How many?

forms:
  booking_form:
    required_slots:
      # the number comes from the entity
      people:
        - type: from_entity
          entity: number
        # or from free text
        - type: from_text
      # after people
      city:
        - type: from_text

# Session settings last.
session_config:
  session_expiration_time: 60  # minutes
"""


def test_comments_and_other_sections_stay_as_they_were(tmp_path: Path) -> None:
    _, text, _ = migrated(tmp_path, DOMAIN_WITH_COMMENTS)
    original = textwrap.dedent(DOMAIN_WITH_COMMENTS).lstrip("\n")
    for line in original.splitlines():
        if "#" in line:
            assert line[line.index("#"):] in text, f"lost: {line!r}"
    # only slots, forms and the version line were rewritten
    untouched = original.split("# Responses come next.")[1].split("forms:")[0]
    assert untouched in text
    assert text.startswith(
        '# A 2.0 domain with comments everywhere.\nversion: "3.1"  # the format\n')
    assert text.endswith("# Session settings last.\nsession_config:\n"
                         "  session_expiration_time: 60  # minutes\n")
    # a heading before the next section stays before it
    assert "    initial_value: null\n    mappings:" in text
    assert text.index("# how many of them") < text.index("  people:\n")
    assert text.index("# after people") < text.index("- city", text.index("forms:"))


def test_the_files_list_style_and_null_spelling_are_kept(tmp_path: Path) -> None:
    _, text, _ = migrated(tmp_path, DOMAIN_WITH_COMMENTS)
    # the file indents lists by two under their key, and writes `null`
    assert "    mappings:\n      - type: from_entity\n        entity: number\n" in text
    assert "      - people\n      # after people\n      - city\n" in text
    assert "initial_value: null" in text


def test_compact_lists_stay_compact(tmp_path: Path) -> None:
    _, text, _ = migrated(tmp_path, """
        version: "2.0"
        intents:
        - inform
        slots:
          note:
            type: text
        forms:
          f:
            required_slots:
              note:
              - type: from_text
        """)
    assert "    mappings:\n    - type: from_text\n      conditions:\n" in text
    assert "    required_slots:\n    - note\n" in text


def test_a_domain_folder_is_migrated_file_by_file(tmp_path: Path) -> None:
    folder = tmp_path / "domain"
    write(folder, "slots.yml", """
        version: "2.0"
        slots:
          city:
            type: text
          people:
            type: float
        """)
    write(folder, "forms/booking.yml", """
        version: "2.0"
        forms:
          booking_form:
            required_slots:
              people:
              - type: from_text
        """)
    write(folder, "entities.yml", """
        version: "2.0"
        entities: [city]
        """)
    plain = write(folder, "responses.yml", """
        responses:
          utter_greet:
          - text: hi
        """)
    migration = migrate_domain(folder)
    files = {str(f.relative): f for f in migration.files}
    assert list(files) == ["entities.yml", "forms/booking.yml", "responses.yml", "slots.yml"]
    assert files["entities.yml"].text == 'version: "3.1"\nentities: [city]\n'
    assert not files["responses.yml"].changed  # no version line: read as 3.x already
    assert files["responses.yml"].text == plain.read_text()
    slots = to_plain(read_yaml(files["slots.yml"].text))["slots"]
    assert slots["city"]["mappings"] == [{"type": "from_entity", "entity": "city"}]
    assert slots["people"]["mappings"] == [
        {"type": "from_text", "conditions": [{"active_loop": "booking_form",
                                              "requested_slot": "people"}]}]
    forms = to_plain(read_yaml(files["forms/booking.yml"].text))["forms"]
    assert forms == {"booking_form": {"required_slots": ["people"]}}


def test_the_migrated_folder_loads_to_the_same_domain(tmp_path: Path) -> None:
    root = tmp_path / "bot"
    write(root, "domain/a.yml", """
        version: "2.0"
        entities: [city, number]
        slots:
          city: {type: text}
          people: {type: float, auto_fill: false}
        """)
    write(root, "domain/b.yml", """
        version: "2.0"
        forms:
          f:
            city: [{type: from_entity, entity: city}]
            people: [{entity: number}, {type: from_text}]
        """)
    before = loaded_domain(root)
    write_migration(migrate_domain(root / "domain"))
    assert loaded_domain(root) == before
    assert (root / "original_domain" / "b.yml").read_text().startswith('version: "2.0"')


# ---------------------------------------------------------------- refusals


def test_a_3_x_domain_is_left_alone(tmp_path: Path) -> None:
    source = write(tmp_path, "domain.yml", """
        version: "3.1"
        slots:
          city:
            type: text
            mappings: [{type: from_entity, entity: city}]
        forms:
          f:
            required_slots: [city]
          nothing_yet: {}
        """)
    with pytest.raises(ProjectError, match=r"already in the 3\.x format: nothing to migrate") as e:
        migrate_domain(source)
    assert str(e.value.position) == f"{source}:1:1"


def test_2_0_form_mappings_in_a_3_x_file_are_migrated(tmp_path: Path) -> None:
    new, _, _ = migrated(tmp_path, """
        version: "3.0"
        slots:
          note:
            type: text
            mappings: []
        forms:
          f:
            required_slots:
              note: [{type: from_text}]
        """)
    assert new["version"] == "3.1"
    assert new["slots"]["note"]["mappings"] == [
        {"type": "from_text", "conditions": [{"active_loop": "f", "requested_slot": "note"}]}]


def test_a_form_mapping_with_its_own_conditions_cannot_be_converted(tmp_path: Path) -> None:
    source = write(tmp_path, "domain.yml", """
        version: "2.0"
        slots:
          note: {type: text}
        forms:
          f:
            required_slots:
              note:
              - type: from_text
                conditions: [{active_loop: other}]
        """)
    with pytest.raises(ProjectError, match="has its own conditions") as e:
        migrate_domain(source)
    assert str(e.value.position) == f"{source}:8:9"


def test_a_domain_with_errors_is_not_migrated(tmp_path: Path) -> None:
    source = write(tmp_path, "domain.yml", """
        version: "2.0"
        forms:
          f:
            required_slots:
              missing:
              - type: from_text
        """)
    with pytest.raises(ProjectValidationError) as e:
        migrate_domain(source)
    assert f"{source}:5:7: error: form 'f' requires slot 'missing'" in str(e.value)
    assert "nothing was written" in str(e.value)


def test_a_result_that_would_load_differently_is_refused(tmp_path: Path, monkeypatch) -> None:
    source = write(tmp_path, "domain.yml", """
        version: "2.0"
        entities: [city]
        slots:
          city: {type: text}
        """)
    # pretend the rewrite forgot the auto-fill mapping
    monkeypatch.setattr(domain_migrate, "_render", lambda text, data, changed: text.replace(
        '"2.0"', '"3.1"'))
    with pytest.raises(ProjectError, match=r"would not load as the original does \(slot 'city'\)"):
        migrate_domain(source)


# ---------------------------------------------------------------- writing


def test_in_place_keeps_the_original_next_to_it(tmp_path: Path) -> None:
    source = write(tmp_path, "domain.yml", "version: '2.0'\nslots:\n  a: {type: text}\n")
    original = source.read_text()
    result = write_migration(migrate_domain(source))
    assert result.backup == tmp_path / "original_domain.yml" == backup_path(source)
    assert result.backup.read_text() == original
    assert result.written == [source]
    assert source.read_text().startswith('version: "3.1"')


def test_an_existing_backup_refuses_the_migration(tmp_path: Path) -> None:
    source = write(tmp_path, "domain.yml", "version: '2.0'\nslots:\n  a: {type: text}\n")
    (tmp_path / "original_domain.yml").write_text("older\n")
    migration = migrate_domain(source)
    with pytest.raises(ProjectError, match=r"original_domain\.yml exists already"):
        write_migration(migration)
    assert source.read_text().startswith("version: '2.0'")
    assert (tmp_path / "original_domain.yml").read_text() == "older\n"


def test_out_leaves_the_original_alone_and_never_overwrites(tmp_path: Path) -> None:
    source = write(tmp_path, "domain.yml", "version: '2.0'\nslots:\n  a: {type: text}\n")
    original = source.read_text()
    result = write_migration(migrate_domain(source), tmp_path / "new" / "domain.yml")
    assert result.backup is None
    assert source.read_text() == original
    assert (tmp_path / "new" / "domain.yml").read_text().startswith('version: "3.1"')
    with pytest.raises(ProjectError, match="exists already: nothing was migrated"):
        write_migration(migrate_domain(source), tmp_path / "new" / "domain.yml")


def test_out_for_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "domain"
    write(folder, "a.yml", "version: '2.0'\nslots:\n  a: {type: text}\n")
    write(folder, "b/c.yml", "responses:\n  utter_a: [{text: a}]\n")
    migration = migrate_domain(folder)
    (tmp_path / "empty").mkdir()
    result = write_migration(migration, tmp_path / "empty")
    assert sorted(str(p.relative_to(tmp_path / "empty")) for p in result.written) == [
        "a.yml", "b/c.yml"]
    with pytest.raises(ProjectError, match="is not an empty folder"):
        write_migration(migration, tmp_path / "empty")
    with pytest.raises(ProjectError, match="inside the domain folder"):
        write_migration(migration, folder / "migrated")


# ---------------------------------------------------------------- Rasa's example projects


@pytest.mark.parametrize("name", RASA_2_PROJECTS)
def test_rasa_2_projects_load_to_the_same_domain_after_migrating(
    name: str, rasa_projects: Path, tmp_path: Path
) -> None:
    root = shutil.copytree(rasa_projects / name, tmp_path / name)
    before = load_project(root, strict=False)
    result = write_migration(migrate_domain(root / "domain.yml"))
    after = load_project(root, strict=False)
    assert domain_meaning(after.domain) == domain_meaning(before.domain)
    assert after.domain.version == "3.1"
    assert after.errors == before.errors == []
    original = result.backup.read_text(encoding="utf-8")
    text = (root / "domain.yml").read_text(encoding="utf-8")
    for line in original.splitlines():
        if line.lstrip().startswith("#"):
            assert line.strip() in text, f"lost comment: {line!r}"


@pytest.mark.parametrize("name", RASA_3_PROJECTS)
def test_rasa_3_projects_are_already_migrated(name: str, rasa_projects: Path) -> None:
    with pytest.raises(ProjectError, match=r"already in the 3\.x format"):
        migrate_domain(rasa_projects / name / "domain.yml")


def test_formbot_reads_as_rasa_3_writes_it(rasa_projects: Path) -> None:
    migration = migrate_domain(rasa_projects / "formbot" / "domain.yml")
    new = to_plain(read_yaml(migration.files[0].text))
    assert new["forms"]["restaurant_form"] == {
        "ignored_intents": ["chitchat"],
        "required_slots": ["cuisine", "feedback", "num_people", "outdoor_seating", "preferences"],
    }
    assert new["slots"]["outdoor_seating"]["mappings"] == [
        {"entity": "seating", "type": "from_entity",
         "conditions": [{"active_loop": "restaurant_form"}]},
        {"intent": "affirm", "type": "from_intent", "value": True,
         "conditions": [{"active_loop": "restaurant_form",
                         "requested_slot": "outdoor_seating"}]},
        {"intent": "deny", "type": "from_intent", "value": False,
         "conditions": [{"active_loop": "restaurant_form",
                         "requested_slot": "outdoor_seating"}]},
    ]
    assert all("auto_fill" not in slot for slot in new["slots"].values())


def test_the_documented_example_migrates_to_the_documented_result(tmp_path: Path) -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "project-format.md").read_text(
        encoding="utf-8")
    section = page.split("### Slot filling in format 2.0, and `data migrate`")[1]
    old, new = (block.split("```", 1)[0] for block in section.split("```yaml\n")[1:3])
    migration = migrate_domain(write(tmp_path, "old/domain.yml", old))
    shown = write(tmp_path, "new/domain.yml", new)
    assert (domain_meaning(load_project(tmp_path / "new").domain)
            == domain_meaning(load_project(tmp_path / "old").domain))
    assert to_plain(read_yaml(migration.files[0].text)) == to_plain(read_yaml(shown.read_text()))
