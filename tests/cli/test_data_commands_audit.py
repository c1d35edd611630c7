"""Data commands checked against Rasa's outputs: nothing a Rasa user wrote is lost."""

from __future__ import annotations

from pathlib import Path

from story_data import GREET_EXAMPLES, nlu_yaml

from dialogflowlite.cli.data import split_nlu
from dialogflowlite.cli.main import main
from dialogflowlite.io.yaml import read_yaml_file, to_plain

RETRIEVAL_NLU = nlu_yaml(GREET_EXAMPLES, """\
- intent: faq/ask_name
  examples: |
    - what's your name
    - who are you
    - tell me your name
- intent: faq/ask_age
  examples: |
    - how old are you
    - what is your age
responses:
  utter_faq/ask_name:
  - text: I am a bot
    metadata:
      rephrase: true
  utter_faq/ask_age:
  - text: very young
  utter_unused:
  - text: kept somewhere
""")


def _written_responses(path: Path) -> dict:
    return to_plain(read_yaml_file(path) or {}).get("responses", {})


def _retrieval_intents(path: Path) -> set[str]:
    return {
        item["intent"]
        for item in to_plain(read_yaml_file(path))["nlu"]
        if "intent" in item and "/" in item["intent"]
    }


def test_split_nlu_writes_each_part_s_responses_to_an_nlg_file_beside_it(
    tmp_path: Path, capsys
) -> None:
    # as Rasa's `data split nlu`: training_data.yml and test_data.yml hold the NLU data
    # only; each part's responses go to nlg_training_data.yml and nlg_test_data.yml
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text(RETRIEVAL_NLU, encoding="utf-8")
    training, test = split_nlu(tmp_path, training_fraction=0.5, seed=3)
    assert (training.name, test.name) == ("training_data.yml", "test_data.yml")
    folder = training.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "nlg_test_data.yml", "nlg_training_data.yml", "test_data.yml", "training_data.yml"]
    assert "responses" not in to_plain(read_yaml_file(training))
    assert "responses" not in to_plain(read_yaml_file(test))
    original = to_plain(read_yaml_file(tmp_path / "data" / "nlu.yml"))["responses"]
    nlg = {training: folder / "nlg_training_data.yml", test: folder / "nlg_test_data.yml"}
    for path, nlg_path in nlg.items():
        written = _written_responses(nlg_path)
        # every retrieval intent with examples in a part has its response in its nlg file
        for intent in _retrieval_intents(path):
            assert written[f"utter_{intent}"] == original[f"utter_{intent}"]
    assert set(_written_responses(nlg[test])) == {f"utter_{i}" for i in _retrieval_intents(test)}
    # a response no example uses stays with the training part (Rasa's split drops it), said
    assert _written_responses(nlg[training])["utter_unused"] == [{"text": "kept somewhere"}]
    assert "utter_unused" not in _written_responses(nlg[test])
    out = capsys.readouterr().out
    assert "1 response(s) that no example uses" in out
    assert "nlg_training_data.yml: utter_unused" in out


def test_split_nlu_of_json_data_writes_rasa_s_yaml_files(tmp_path: Path) -> None:
    # Rasa names the parts after the source's format only for YAML: JSON NLU data is
    # written as training_data.yml and test_data.yml too, and the nlg files are empty
    import json

    examples = [{"text": text, "intent": "greet"} for text in ("hi", "hello", "hey", "yo")]
    source = tmp_path / "nlu.json"
    source.write_text(json.dumps({"rasa_nlu_data": {"common_examples": examples}}),
                      encoding="utf-8")
    training, test = split_nlu(tmp_path, nlu=source, training_fraction=0.5)
    folder = training.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "nlg_test_data.yml", "nlg_training_data.yml", "test_data.yml", "training_data.yml"]
    texts = [
        line.strip("- ")
        for path in (training, test)
        for line in to_plain(read_yaml_file(path))["nlu"][0]["examples"].splitlines()
    ]
    assert sorted(texts) == ["hello", "hey", "hi", "yo"]
    assert (folder / "nlg_training_data.yml").read_text(encoding="utf-8") == ""
    assert (folder / "nlg_test_data.yml").read_text(encoding="utf-8") == ""


def test_split_nlu_through_the_command_line_reads_back_as_data(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text(RETRIEVAL_NLU, encoding="utf-8")
    out = tmp_path / "parts"
    assert (
        main(
            [
                "data",
                "split",
                "nlu",
                "--project",
                str(tmp_path),
                "--nlu",
                str(tmp_path / "data"),
                "--training-fraction",
                "0.7",
                "--random-seed",
                "5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    names = set(_written_responses(out / "nlg_training_data.yml")) | set(
        _written_responses(out / "nlg_test_data.yml")
    )
    assert names == {"utter_faq/ask_name", "utter_faq/ask_age", "utter_unused"}


def _stories(count: int) -> str:
    lines = ['version: "3.1"', "stories:"]
    for number in range(count):
        lines += [
            f"- story: story {number}",
            "  steps:",
            "  - intent: greet",
            "  - action: utter_greet",
        ]
    return "\n".join(lines) + "\n"


def test_split_stories_takes_rasa_s_nlu_option_for_its_source(tmp_path: Path) -> None:
    # `rasa data split stories -u PATH` names the stories to split with -u/--nlu
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "stories.yml").write_text(_stories(5), encoding="utf-8")
    for option in ("-u", "--nlu"):
        out = tmp_path / option.strip("-")
        assert (
            main(
                [
                    "data",
                    "split",
                    "stories",
                    "--project",
                    str(tmp_path),
                    option,
                    str(tmp_path / "more"),
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        stories = [
            story
            for name in ("train_stories.yml", "test_stories.yml")
            for story in to_plain(read_yaml_file(out / name))["stories"]
        ]
        assert sorted(s["story"] for s in stories) == [f"story {n}" for n in range(5)]


MARKDOWN_NLU = """\
## intent:greet
- hi
- hello [Ann](name)
"""


def test_convert_nlu_takes_rasa_s_language_option_and_default_output(
    tmp_path: Path, monkeypatch
) -> None:
    # `rasa data convert nlu -f yaml --data nlu.md -l en` without --out writes to converted_data
    (tmp_path / "nlu.md").write_text(MARKDOWN_NLU, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["data", "convert", "nlu", "-f", "yaml", "--data", "nlu.md", "-l", "en"]) == 0
    written = to_plain(read_yaml_file(tmp_path / "converted_data" / "nlu_converted.yml"))
    assert written["nlu"][0]["intent"] == "greet"
    assert "[Ann](name)" in written["nlu"][0]["examples"]


def test_split_nlu_warns_when_the_examples_are_too_few_and_the_training_part_is_empty(
        tmp_path: Path) -> None:
    # before, only a note named the one-example intents: the command looked fine, and
    # `train nlu --nlu training_data.yml` then failed on the empty file
    import io

    nlu = tmp_path / "data/nlu.yml"
    nlu.parent.mkdir()
    nlu.write_text(nlu_yaml("""\
- intent: greet
  examples: |
    - hi
- intent: bye
  examples: |
    - bye
- intent: thanks
  examples: |
    - thanks
"""), encoding="utf-8")
    out = io.StringIO()
    training, _ = split_nlu(tmp_path, echo=out)
    printed = out.getvalue()
    assert ("warning: there are too few examples to put one of each of the 3 intents into "
            "both parts and keep 0.8 of the examples for training") in printed
    assert f"warning: {training} holds no examples: every intent has a single example" \
        in printed
