"""``dialogflowlite data convert nlu|core``: Markdown and JSON training data written as YAML,
and NLU data written in Rasa's JSON format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plain_data import plain, write
from story_data import CITY_LOOKUP, ZIPCODE_REGEX, nlu_yaml

from dialogflowlite.cli.main import main
from dialogflowlite.evaluation.nlu import load_nlu_data
from dialogflowlite.io.json_nlu_reader import read_json_nlu
from dialogflowlite.io.loader import load_project
from dialogflowlite.io.markdown_reader import read_markdown_nlu, read_markdown_stories
from dialogflowlite.io.problems import ProblemLog

NLU_MD = """
## intent:greet
- hey <!-- a comment -->
- hello [Berlin](city) there
- how much is on my [savings account](source_account:savings)
- fly [NYC]{"entity": "city", "value": "New York", "role": "to", "group": "2"}
- a [bag][{"entity": "item"}, {"entity": "luggage"}]
- yes
## intent:faq/ask_name
- what is your name?
## synonym:savings
- pink pig
## regex:zipcode
- [0-9]{5}
- \\d{3}-\\d{4}
## lookup:cities
data/cities.txt
## lookup:true
- yes
"""

NLU_JSON = {
    "rasa_nlu_data": {
        "common_examples": [
            {
                "text": "fly from Berlin",
                "intent": "book",
                "entities": [
                    {"start": 9, "end": 15, "value": "BER", "entity": "city", "role": "from"}
                ],
                "metadata": {"source": "web"},
            },
            {"text": "book it", "intent": "book"},
            {"text": "thanks: a lot", "intent": "thanks"},
        ],
        "entity_synonyms": [{"value": "BER", "synonyms": ["Berlin"]}],
        "regex_features": [{"name": "iata", "pattern": "[A-Z]{3}"}],
        "lookup_tables": [{"name": "country", "elements": ["Norway", "null"]}],
    }
}

STORIES_MD = """
## happy path
* greet
  - utter_greet
* inform{"city": "Berlin", "seats": 2, "extras": ["bag", null]} OR affirm
  - action_search
  - slot{"city": "Berlin", "found": true, "results": {"n": 1}, "note": "yes"}
  - form{"name": "book_form"}
  - active_loop{"name": null}
> searched

## after the search
> searched{"found": true}
* thanks: thank you, [Ana](name)!
  - utter_welcome
* entity{"entity": "x"}
  - utter_ok

>> greet anywhere
  - active_loop{"name": "book_form"}
  - ...
* greet
  - utter_greet
  - ...

>> welcome at the start
* greet
  - utter_welcome
"""


@pytest.fixture
def project(write_project) -> Path:
    """A Rasa 2 project whose training data is all Markdown and JSON."""
    return write_project(
        domain="""
        version: "2.0"
        intents: [greet, inform, affirm, thanks, entity, book, faq, "yes"]
        entities: [city, seats, extras, name, x, entity, source_account, item, luggage]
        slots:
          city: {type: text}
          found: {type: bool}
          results: {type: any}
          note: {type: text}
        responses:
          utter_greet: [{text: Hi}]
          utter_welcome: [{text: Welcome}]
          utter_ok: [{text: OK}]
          utter_faq/ask_name: [{text: Dee}]
        actions: [action_search]
        forms:
          book_form: {}
        """,
        files={
            "data/nlu.md": NLU_MD,
            "data/cities.txt": "Berlin\nOslo\n",
            "data/more/nlu.json": json.dumps(NLU_JSON, indent=2),
            "data/stories.md": STORIES_MD,
        },
    )


def convert(monkeypatch, folder: Path, *args: str) -> int:
    monkeypatch.chdir(folder)
    return main(["data", "convert", *args])


def loaded(root: Path) -> dict:
    project = load_project(root)
    return {
        "nlu": plain(project.nlu),
        "stories": plain(project.stories),
        "rules": plain(project.rules),
    }


def write_project_copy(project: Path, data_file: Path) -> Path:
    """A project with the same domain and only ``data_file`` as its data."""
    copy = project.parent / "copy"
    (copy / "data").mkdir(parents=True)
    (copy / "domain.yml").write_text((project / "domain.yml").read_text(), encoding="utf-8")
    (copy / "data" / "data.yml").write_text(data_file.read_text(), encoding="utf-8")
    return copy


def test_converting_a_whole_project_keeps_its_data(project: Path, monkeypatch, capsys) -> None:
    before = loaded(project)
    assert convert(monkeypatch, project, "nlu", "--data", "data", "--out", "data") == 0
    assert convert(monkeypatch, project, "core", "--data", "data", "--out", "data") == 0
    out = capsys.readouterr().out
    assert (
        "data/nlu.md -> data/nlu_converted.yml (7 examples, 1 synonyms, 2 regexes, "
        "2 lookup tables)" in out
    )
    assert (
        "data/more/nlu.json -> data/more/nlu_converted.yml (3 examples, 1 synonyms, 1 regexes, "
        "1 lookup tables)" in out
    )
    assert "data/stories.md -> data/stories_converted.yml (2 stories, 2 rules)" in out
    assert "then delete the old ones: a project reads both" in out
    for old in ("data/nlu.md", "data/more/nlu.json", "data/stories.md", "data/cities.txt"):
        (project / old).unlink()
    after = load_project(project)
    assert after.problems == []
    assert {
        "nlu": plain(after.nlu),
        "stories": plain(after.stories),
        "rules": plain(after.rules),
    } == before


def test_converted_nlu_reads_back_to_the_same_data(project: Path, monkeypatch) -> None:
    out = project / "converted"
    assert (
        convert(monkeypatch, project, "nlu", "--data", "data/nlu.md", "--out", "converted/nlu.yml")
        == 0
    )
    markdown = read_markdown_nlu(project / "data/nlu.md", ProblemLog(), project)
    (project / "data/nlu.md").unlink()
    (project / "data/more/nlu.json").unlink()
    (project / "data/stories.md").unlink()
    (project / "data/nlu.yml").write_text((out / "nlu.yml").read_text(), encoding="utf-8")
    assert plain(load_project(project).nlu) == plain(markdown)
    text = (out / "nlu.yml").read_text()
    assert text.startswith('version: "3.1"\n')
    assert '- lookup: "true"\n  examples: |\n    - yes\n' in text


def test_converted_json_reads_back_to_the_same_data(project: Path, monkeypatch,
                                                    capsys) -> None:
    assert convert(monkeypatch, project, "nlu", "--data", "data/more", "--out", "out") == 0
    # written outside data/: no second copy for the project to read, nothing to delete
    assert "delete the old ones" not in capsys.readouterr().out
    original = read_json_nlu(project / "data/more/nlu.json", ProblemLog())
    again = load_project(write_project_copy(project, project / "out/nlu_converted.yml")).nlu
    assert plain(again) == plain(original)


def test_converted_stories_read_back_to_the_same_steps(project: Path, monkeypatch) -> None:
    assert (
        convert(monkeypatch, project, "core", "--data", "data/stories.md", "--out", "stories.yml")
        == 0
    )
    original = read_markdown_stories(project / "data/stories.md", ProblemLog())
    copy = load_project(write_project_copy(project, project / "stories.yml"))
    assert plain(copy.stories + copy.rules) == plain(original)
    rule = copy.rules[0]
    assert (rule.conversation_start, rule.wait_for_user_input, len(rule.condition)) == (
        False,
        False,
        1,
    )
    assert copy.stories[1].steps[0].slot_conditions == {"found": True}


def test_an_existing_file_is_never_overwritten(project: Path, monkeypatch, capsys) -> None:
    target = project / "data/nlu_converted.yml"
    target.write_text("mine\n", encoding="utf-8")
    assert convert(monkeypatch, project, "nlu", "--data", "data", "--out", "data") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: data/nlu_converted.yml exists already: nothing was converted")
    assert "an existing file is never overwritten" in err
    assert target.read_text() == "mine\n"
    # the other file of the run was not written either
    assert not (project / "data/more/nlu_converted.yml").exists()


def test_two_sources_for_one_target_are_refused(tmp_path: Path, monkeypatch, capsys) -> None:
    write(tmp_path, "data/nlu.md", "## intent:greet\n- hi\n")
    write(tmp_path, "data/nlu.json", json.dumps(NLU_JSON))
    assert convert(monkeypatch, tmp_path, "nlu", "--out", "out") == 1
    assert "two files would be written to out/nlu_converted.yml" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_files_with_errors_are_not_converted(tmp_path: Path, monkeypatch, capsys) -> None:
    write(tmp_path, "data/nlu.md", "## intent:greet\n- hi\n- [there(x)\n")
    write(
        tmp_path,
        "data/stories.md",
        '## s\n* greet\n  - utter_greet\n  - restart\n* inform{"a": }\n',
    )
    assert convert(monkeypatch, tmp_path, "nlu", "--out", "out") == 1
    err = capsys.readouterr().err
    assert "data/nlu.md:3:3: error: unclosed '['" in err
    assert "nothing was written" in err
    assert convert(monkeypatch, tmp_path, "core", "--out", "out") == 1
    err = capsys.readouterr().err
    assert "error: the project has 1 error(s):\ndata/stories.md:5:15: error: bad JSON" in err
    assert not (tmp_path / "out").exists()


def test_warnings_are_printed_and_the_file_is_written(tmp_path: Path, monkeypatch, capsys) -> None:
    write(
        tmp_path,
        "nlu.json",
        json.dumps(
            {
                "rasa_nlu_data": {
                    "common_examples": [
                        {
                            "text": "New York City",
                            "intent": "go",
                            "entities": [
                                {"start": 0, "end": 8, "entity": "state"},
                                {"start": 4, "end": 13, "entity": "city"},
                            ],
                        },
                        {"text": "see [the docs](link)", "intent": "go"},
                        {"text": "hello [there] you", "intent": "go"},
                    ]
                }
            }
        ),
    )
    assert convert(monkeypatch, tmp_path, "nlu", "--data", "nlu.json", "--out", "nlu.yml") == 0
    out = capsys.readouterr().out
    assert (
        "nlu.json:1:40: warning: example 'New York City' has overlapping entities; the "
        "YAML keeps only the first of them"
    ) in out
    column = (tmp_path / "nlu.json").read_text().index('{"text": "see') + 1
    assert (
        f"nlu.json:1:{column}: warning: example 'see [the docs](link)' has brackets that YAML "
        "reads as entity annotation; the YAML does not hold it unchanged"
    ) in out
    assert "hello [there] you'" not in out  # brackets without an annotation stay text
    written = (tmp_path / "nlu.yml").read_text()
    assert "- [New York](state) City\n" in written and "- hello [there] you\n" in written


def test_the_wrong_kind_of_file_is_named(tmp_path: Path, monkeypatch, capsys) -> None:
    write(tmp_path, "data/nlu.md", "## intent:greet\n- hi\n")
    write(tmp_path, "data/stories.yml", "stories: []\n")
    assert convert(monkeypatch, tmp_path, "core", "--data", "data/nlu.md", "--out", "x") == 1
    assert capsys.readouterr().err.startswith(
        "error: data/nlu.md is not Markdown stories but Markdown NLU data "
        "(hint: use `data convert nlu`)"
    )
    assert convert(monkeypatch, tmp_path, "core", "--out", "x") == 1
    assert capsys.readouterr().err.startswith("error: data holds no Markdown stories to convert")
    assert convert(monkeypatch, tmp_path, "nlu", "--data", "data/stories.yml", "--out", "x") == 1
    assert (
        "is not Markdown or JSON NLU data (hint: `data convert` reads Rasa's Markdown"
        in capsys.readouterr().err
    )
    assert convert(monkeypatch, tmp_path, "nlu", "--data", "nowhere", "--out", "x") == 1
    assert capsys.readouterr().err.startswith("error: nowhere does not exist")
    assert not (tmp_path / "x").exists()


def test_a_file_as_out_merges_the_nlu_of_several_sources(project: Path, monkeypatch,
                                                        capsys) -> None:
    # Rasa 3's `data convert nlu --data FOLDER --out FILE` writes the folder's data as one file
    assert convert(monkeypatch, project, "nlu", "--data", "data", "--out", "nlu.yml") == 0
    assert "data -> nlu.yml (2 files merged: " in capsys.readouterr().out
    before = plain(load_project(project).nlu)
    assert before["examples"] and before["synonyms"]
    after = plain(load_project(write_project_copy(project, project / "nlu.yml")).nlu)
    for part in before:
        assert sorted(map(repr, before[part])) == sorted(map(repr, after[part])), part


RICH_YAML_NLU = nlu_yaml("""\
- intent: book
  metadata: {sentiment: neutral}
  examples: |
    - from [Berlin]{"entity": "city", "role": "from"} to [NYC]{"entity": "city", "value": "NY"}
    - [2]{"entity": "count", "group": "1"} seats, [cheap](price:low)
- intent: faq/ask_name
  examples:
  - text: what is your name?
    metadata: {source: web}
- synonym: NY
  examples: |
    - NYC
""", ZIPCODE_REGEX, CITY_LOOKUP)


def test_nlu_is_written_in_rasa_s_json_shape(tmp_path: Path, monkeypatch) -> None:
    write(tmp_path, "data/nlu.yml", RICH_YAML_NLU)
    assert convert(monkeypatch, tmp_path, "nlu", "-f", "json", "--data", "data/nlu.yml",
                   "--out", "nlu.json") == 0
    body = json.loads((tmp_path / "nlu.json").read_text(encoding="utf-8"))["rasa_nlu_data"]
    assert list(body) == ["common_examples", "regex_features", "lookup_tables",
                          "entity_synonyms"]
    first, second, faq = body["common_examples"]
    # the intent's metadata under "intent", an example's own under "example", as Rasa's
    assert first == {
        "text": "from Berlin to NYC", "intent": "book",
        "entities": [{"start": 5, "end": 11, "value": "Berlin", "entity": "city", "role": "from"},
                     {"start": 15, "end": 18, "value": "NY", "entity": "city"}],
        "metadata": {"intent": {"sentiment": "neutral"}},
    }
    assert second["metadata"] == {"intent": {"sentiment": "neutral"}}
    assert second["entities"] == [
        {"start": 0, "end": 1, "value": "2", "entity": "count", "group": "1"},
        {"start": 9, "end": 14, "value": "low", "entity": "price"}]
    # the full retrieval intent; an example without entities has no entities key, as Rasa's
    assert faq == {"text": "what is your name?", "intent": "faq/ask_name",
                   "metadata": {"example": {"source": "web"}}}
    assert body["regex_features"] == [{"name": "zipcode", "pattern": "\\d{5}"}]
    assert body["lookup_tables"] == [{"name": "city", "elements": ["Berlin", "Oslo"]}]
    # the synonyms given inline too (`[cheap](price:low)`), each variant once
    assert body["entity_synonyms"] == [{"value": "NY", "synonyms": ["NYC"]},
                                       {"value": "low", "synonyms": ["cheap"]}]


def test_json_written_reads_back_to_the_same_data(project: Path, monkeypatch, capsys) -> None:
    write(project, "yaml/nlu.yml", RICH_YAML_NLU)
    assert convert(monkeypatch, project, "nlu", "--format", "json", "--data", "data",
                   "--out", "json") == 0
    assert convert(monkeypatch, project, "nlu", "--format", "json", "--data", "yaml",
                   "--out", "json/from_yaml.json") == 0
    out = capsys.readouterr().out
    assert "data/nlu.md -> json/nlu_converted.json (7 examples" in out
    assert "data/more/nlu.json -> json/more/nlu_converted.json (3 examples" in out
    pairs = [
        (read_markdown_nlu(project / "data/nlu.md", ProblemLog(), project),
         project / "json/nlu_converted.json"),
        (read_json_nlu(project / "data/more/nlu.json", ProblemLog()),
         project / "json/more/nlu_converted.json"),
        (load_nlu_data(project / "yaml/nlu.yml"), project / "json/from_yaml.json"),
    ]
    for original, written in pairs:
        log = ProblemLog()
        again = read_json_nlu(written, log)
        assert log.problems == []
        # the synonyms given inline are listed among the synonyms too: the same map
        assert again.synonym_map() == original.synonym_map(), written
        again.synonyms = original.synonyms = []
        assert plain(again) == plain(original), written


def test_json_output_mistakes_are_named(project: Path, monkeypatch, capsys) -> None:
    write(project, "yaml/nlu.yml", RICH_YAML_NLU)
    assert convert(monkeypatch, project, "nlu", "-f", "json", "--data", "data/nlu.md",
                   "--out", "nlu.yml") == 1
    assert "--out nlu.yml names a YAML file, but --format is json" in capsys.readouterr().err
    # YAML needs no conversion into YAML
    assert convert(monkeypatch, project, "nlu", "--data", "yaml/nlu.yml", "--out", "x") == 1
    assert "yaml/nlu.yml is YAML NLU data already (hint: pass --format json" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        convert(monkeypatch, project, "core", "-f", "json", "--data", "data/stories.md")
    assert "invalid choice: 'json'" in capsys.readouterr().err
    assert not (project / "nlu.yml").exists() and not (project / "x").exists()


def test_only_yaml_and_json_are_written(project: Path, monkeypatch, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        convert(monkeypatch, project, "nlu", "--out", "out", "--format", "md")
    assert exit_info.value.code == 2
    assert "invalid choice: 'md'" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["nlu", "core"])
def test_a_broken_yaml_file_in_the_folder_does_not_stop_a_markdown_conversion(
        tmp_path: Path, monkeypatch, capsys, kind) -> None:
    # before, every YAML file of the folder was parsed: "error: broken.yml:2:1: invalid YAML"
    write(tmp_path, "data/nlu.md", "## intent:greet\n- hi\n")
    write(tmp_path, "data/stories.md", "## path\n* greet\n  - utter_greet\n")
    write(tmp_path, "data/broken.yml", "title: notes\n- [oops\n")
    assert convert(monkeypatch, tmp_path, kind, "--data", "data", "--out", "out") == 0
    assert (tmp_path / f"out/{'nlu' if kind == 'nlu' else 'stories'}_converted.yml").is_file()
    assert "broken" not in capsys.readouterr().out


def test_json_output_skips_a_broken_yaml_file_unless_it_holds_nlu(
        tmp_path: Path, monkeypatch, capsys) -> None:
    write(tmp_path, "data/nlu.md", "## intent:greet\n- hi\n")
    write(tmp_path, "data/broken.yml", "title: notes\n- [oops\n")
    assert convert(monkeypatch, tmp_path, "nlu", "-f", "json", "--data", "data",
                   "--out", "out") == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["nlu_converted.json"]
    # one whose lines say it is NLU data is reported at its line, as before
    write(tmp_path, "data/more.yml", "nlu:\n- intent: bye\n  examples: [oops\n")
    assert convert(monkeypatch, tmp_path, "nlu", "-f", "json", "--data", "data",
                   "--out", "again") == 1
    assert "more.yml:4" in capsys.readouterr().err
    assert not (tmp_path / "again").exists()


def test_json_output_names_the_responses_it_leaves_out(tmp_path: Path, monkeypatch,
                                                      capsys) -> None:
    # Rasa's JSON NLU format has no place for responses; before, they went without a word
    write(tmp_path, "data/nlu.yml", RICH_YAML_NLU + "responses:\n  utter_faq/ask_name:\n"
          "  - text: I am a bot\n  utter_faq/ask_age:\n  - text: young\n")
    assert convert(monkeypatch, tmp_path, "nlu", "-f", "json", "--data", "data/nlu.yml",
                   "--out", "nlu.json") == 0
    out = capsys.readouterr().out
    assert "the responses of nlu.yml are left out of the JSON (utter_faq/ask_name, " \
           "utter_faq/ask_age)" in out
    assert "responses" not in json.loads((tmp_path / "nlu.json").read_text(encoding="utf-8"))[
        "rasa_nlu_data"]


def test_a_json_out_for_stories_does_not_offer_a_json_format(project: Path, monkeypatch,
                                                            capsys) -> None:
    assert convert(monkeypatch, project, "core", "--data", "data/stories.md",
                   "--out", "stories.json") == 1
    err = capsys.readouterr().err
    assert "--out stories.json names a JSON file, but --format is yaml" in err
    assert "--format json" not in err and "stories are written as YAML" in err
