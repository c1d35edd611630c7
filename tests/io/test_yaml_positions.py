"""YAML reading: positions of nodes, and syntax errors reported at file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.errors import Position, ProjectValidationError, YamlSyntaxError
from dialogflowlite.io.loader import load_project
from dialogflowlite.io.yaml import position, read_yaml, read_yaml_file, to_plain, value_position

TEXT = """\
version: "3.1"
intents:
  - greet
  - inform:
      use_entities: [city]
responses:
  utter_greet:
    - text: |
        Hello
"""


def test_positions_of_keys_items_and_values() -> None:
    data = read_yaml(TEXT, "domain.yml")
    assert position("domain.yml", data, "intents") == Position("domain.yml", 2, 1)
    assert position("domain.yml", data["intents"], 1) == Position("domain.yml", 4, 5)
    assert position("domain.yml", data["intents"][1]["inform"], "use_entities") == Position(
        "domain.yml", 5, 7
    )
    assert value_position("domain.yml", data, "version") == Position("domain.yml", 1, 10)
    variation = data["responses"]["utter_greet"][0]
    assert value_position("domain.yml", variation, "text") == Position("domain.yml", 8, 13)


def test_position_falls_back_to_the_node_then_the_file() -> None:
    data = read_yaml(TEXT, "domain.yml")
    assert position("domain.yml", data, "missing") == Position("domain.yml", 1, 1)
    assert position("domain.yml", "a plain string") == Position("domain.yml")


def test_to_plain_gives_builtin_types() -> None:
    plain = to_plain(read_yaml(TEXT, "domain.yml"))
    assert plain == {
        "version": "3.1",
        "intents": ["greet", {"inform": {"use_entities": ["city"]}}],
        "responses": {"utter_greet": [{"text": "Hello\n"}]},
    }
    assert type(plain["intents"]) is list and type(plain["responses"]) is dict


@pytest.mark.parametrize(
    ("text", "line", "col", "words"),
    [
        ("intents:\n  - greet\n - inform\n", 3, 2, "expected <block end>"),
        ("a: [1, 2\nb: 3\n", 2, 2, "flow sequence"),
        ("intents:\n\t- greet\n", 2, 1, "'\\t'"),
    ],
)
def test_syntax_errors_name_line_and_column(text, line, col, words) -> None:
    with pytest.raises(YamlSyntaxError) as info:
        read_yaml(text, "data/nlu.yml")
    error = info.value
    assert error.position == Position("data/nlu.yml", line, col)
    assert error.message.startswith("invalid YAML:")
    assert words in error.message
    assert "indent" in error.hint


def test_a_quote_left_open_is_reported_where_it_opens() -> None:
    # it was reported at the end of the file, where the reader gave up
    text = 'responses:\n  utter_a:\n    - text: "Hi\n  utter_b:\n    - text: Bye\n'
    with pytest.raises(YamlSyntaxError) as info:
        read_yaml(text, "domain.yml")
    assert info.value.position == Position("domain.yml", 3, None)
    assert info.value.message.startswith("invalid YAML: a quote opened on this line is not "
                                         "closed (the reader went on to line 6: while "
                                         "scanning a quoted scalar")
    assert info.value.hint == "close the quote on this line, or remove it"


def test_a_quote_closed_by_the_next_value_s_names_the_line_that_opened_it() -> None:
    text = 'responses:\n  utter_a:\n    - text: "Hi\n  utter_b:\n    - text: "Bye"\n'
    with pytest.raises(YamlSyntaxError) as info:
        read_yaml(text, "domain.yml")
    assert info.value.position.line == 5  # where the reader noticed
    assert info.value.hint.startswith("line 3 opens a quote that it does not close")


@pytest.mark.parametrize("text", [
    # a quoted text over two lines on purpose, then another mistake
    'responses:\n  utter_a:\n  - text: "a long\n      sentence"\n  utter_b:\n  - text: ok\n'
    ' bad: 1\n',
    # a quote in a comment
    '# see: "the docs\nresponses:\n  utter_a:\n  - text: ok\n bad: 1\n',
])
def test_no_open_quote_is_blamed_where_none_is_the_mistake(text: str) -> None:
    with pytest.raises(YamlSyntaxError) as info:
        read_yaml(text, "domain.yml")
    assert "opens a quote" not in info.value.hint


def test_duplicate_keys_are_an_error_with_their_own_hint() -> None:
    with pytest.raises(YamlSyntaxError) as info:
        read_yaml("slots:\n  city: {type: text}\n  city: {type: any}\n", "domain.yml")
    assert info.value.position.line == 3
    assert 'duplicate key "city"' in info.value.message
    assert info.value.hint == "remove or rename one of the two entries"


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    file = tmp_path / "domain.yml"
    file.write_bytes("intents:\n  - caf\xe9\n".encode("latin-1"))
    with pytest.raises(YamlSyntaxError) as info:
        read_yaml_file(file)
    # the line and column of the first bad byte, as an editor counts them, not a byte offset
    assert info.value.position == Position(str(file), 2, 8)
    assert info.value.message == ("file is not UTF-8 text: byte 0xe9 at line 2, column 8 is "
                                  "no UTF-8 (invalid continuation byte); the file looks like "
                                  "Latin-1 or Windows-1252")
    # characters before it on its line count once, however many bytes they take
    file.write_bytes("intents:\n  - näh\n".encode() + "  - caf\xe9\n".encode("latin-1"))
    with pytest.raises(YamlSyntaxError) as info:
        read_yaml_file(file)
    assert info.value.position == Position(str(file), 3, 8)


def test_the_loader_reports_a_syntax_error_and_reads_the_other_files(write_project) -> None:
    root = write_project(
        domain="""
        version: "3.1"
        intents: [greet, goodbye]
        """,
        nlu="""
        version: "3.1"
        nlu:
          - intent: greet
            examples: |
              - hi
        """,
        files={
            "data/broken.yml": """
            version: "3.1"
            nlu:
              - intent: goodbye
               examples: |
                  - bye
            """
        },
    )
    project = load_project(root, strict=False)
    [problem] = project.problems
    assert problem.code == "DFL102"
    assert problem.position.file == str(root / "data/broken.yml")
    assert problem.position.line == 4
    assert [m.text for m in project.nlu.examples] == ["hi"]
    with pytest.raises(ProjectValidationError) as info:
        load_project(root)
    assert str(root / "data/broken.yml") + ":4:" in str(info.value)


def test_a_list_of_problems_ends_with_its_hint_on_a_line_of_its_own(tmp_path) -> None:
    root = tmp_path / "bot"
    (root / "data").mkdir(parents=True)
    (root / "domain.yml").write_text('version: "3.1"\nintents: [greet]\n')
    (root / "data" / "one.yml").write_text("nlu:\n  - intent: greet\n    examples: [\n")
    (root / "data" / "two.yml").write_text("rules:\n  - rule: x\n    steps: [\n")
    with pytest.raises(ProjectValidationError) as info:
        load_project(root)
    lines = str(info.value).splitlines()
    assert lines[0] == "the project has 2 error(s):"
    assert [line.split(":")[0] for line in lines[1:3]] == [
        str(root / "data" / "one.yml"), str(root / "data" / "two.yml")]
    assert "(hint: fix them" not in lines[2]
    assert lines[3] == "hint: fix them, then run `dialogflowlite data validate`"
