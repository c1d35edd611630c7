"""What `data validate` says of a project with the neural generator: actions only the
generator writes, and pair files it cannot read."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.io.loader import load_project
from dialogflowlite.io.validate import validate_project

OFFER_RULE = """
version: "3.1"
rules:
- rule: offer
  steps:
  - intent: book
  - action: utter_offer
"""


def _problems(root: Path, code: str) -> list:
    return [p for p in validate_project(load_project(root, strict=False)) if p.code == code]


def test_an_action_the_pair_files_teach_the_generator_needs_no_response(
        generation_project: Path) -> None:
    # `use_for: missing` (the default) speaks for utter actions without a template, yet
    # validation (and so training) stopped on the rule: "no response of that name exists"
    (generation_project / "data" / "rules.yml").write_text(OFFER_RULE, encoding="utf-8")
    assert _problems(generation_project, "DFL116") == []


def test_without_a_generator_that_writes_it_the_action_still_needs_a_response(
        generation_project: Path) -> None:
    (generation_project / "data" / "rules.yml").write_text(OFFER_RULE, encoding="utf-8")
    config = generation_project / "config.yml"
    config.write_text(config.read_text(encoding="utf-8") + '  use_for: "never"\n',
                      encoding="utf-8")
    [problem] = _problems(generation_project, "DFL116")
    assert problem.message == "rule 'offer' runs 'utter_offer' but no response of that name exists"


def test_a_bad_pair_file_is_an_error_at_its_line_before_training(
        generation_project: Path) -> None:
    pairs = generation_project / "data" / "pairs" / "offers.jsonl"
    lines = pairs.read_text(encoding="utf-8").splitlines()
    lines.insert(2, '{"act": "utter_offer"}')
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # validation passed it, and training stopped on it once the NLU and the policies had
    # trained, keeping nothing
    [problem] = _problems(generation_project, "DFL143")
    assert problem.severity == "error"
    assert (Path(problem.position.file).name, problem.position.line) == ("offers.jsonl", 3)


GENERATE_RULE = """
version: "3.1"
rules:
- rule: chitchat
  steps:
  - intent: thank
  - action: action_generate
"""


def test_action_generate_without_a_generator_that_writes_replies_is_a_warning(
        generation_project: Path) -> None:
    (generation_project / "data" / "rules.yml").write_text(GENERATE_RULE, encoding="utf-8")
    assert _problems(generation_project, "DFL144") == []  # mode: both writes them
    config = generation_project / "config.yml"
    config.write_text(config.read_text(encoding="utf-8") + '  mode: "act2text"\n',
                      encoding="utf-8")
    [problem] = _problems(generation_project, "DFL144")
    assert problem.severity == "warning"
    assert problem.message.startswith("rule 'chitchat' runs 'action_generate', but config.yml "
                                      "has no generator")
    # it passed silently, and the bot sent utter_default every time
    config.write_text('version: "3.1"\nlanguage: en\n', encoding="utf-8")
    assert len(_problems(generation_project, "DFL144")) == 1


def test_a_missing_blocklist_file_is_an_error_at_the_generator(
        generation_project: Path) -> None:
    config = generation_project / "config.yml"
    config.write_text(config.read_text(encoding="utf-8") + '  blocklist_file: "nope.txt"\n',
                      encoding="utf-8")
    [problem] = _problems(generation_project, "DFL147")
    assert problem.message.startswith("NeuralResponseGenerator: blocklist_file 'nope.txt' is "
                                      "not a file")
    assert (Path(problem.position.file).name, problem.position.line) == ("config.yml", 4)
    (generation_project / "nope.txt").write_text("damn\n", encoding="utf-8")
    assert _problems(generation_project, "DFL147") == []


def test_a_generator_without_training_pairs_is_an_error(generation_project: Path) -> None:
    config = generation_project / "config.yml"
    config.write_text(config.read_text(encoding="utf-8") + "  pair_files: false\n"
                      '  mode: "context2response"\n', encoding="utf-8")
    assert _problems(generation_project, "DFL147") == []  # the stories give pairs
    for part in ("stories.yml", "nlu.yml"):
        (generation_project / "data" / part).unlink()
    [problem] = _problems(generation_project, "DFL147")
    assert problem.message.startswith("NeuralResponseGenerator has no training pairs for mode "
                                      "context2response")


def test_an_unreadable_blocklist_file_at_training_names_the_config_line(tmp_path: Path) -> None:
    from dialogflowlite.components.generation.neural import NeuralResponseGenerator
    from dialogflowlite.errors import ComponentConfigError, Position

    where = Position("config.yml", 7)
    with pytest.raises(ComponentConfigError) as info:
        NeuralResponseGenerator({"blocklist_file": "nope.txt"}, project_dir=tmp_path,
                                position=where)
    assert info.value.position == where
    assert info.value.message.startswith(
        f"NeuralResponseGenerator: blocklist_file {tmp_path / 'nope.txt'} cannot be read")
    assert "a relative path starts at the project folder" in info.value.hint
    (tmp_path / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    with pytest.raises(ComponentConfigError, match="cannot be read"):  # was a traceback
        NeuralResponseGenerator({"blocklist_file": "latin1.txt"}, project_dir=tmp_path)


def test_a_bad_pair_file_does_not_stop_training_without_the_generator(
        generation_project: Path) -> None:
    from dialogflowlite.errors import ProjectValidationError
    from dialogflowlite.training.trainer import validated_project

    pairs = generation_project / "data" / "pairs" / "offers.jsonl"
    pairs.write_text('{"act": "utter_offer"}\n', encoding="utf-8")
    # `train nlu` never reads the pair files: their error stopped it
    project = validated_project(generation_project, sections=("nlu",))
    assert project.root == generation_project
    with pytest.raises(ProjectValidationError) as info:
        validated_project(generation_project, sections=("nlu", "core", "generation"))
    assert "offers.jsonl:1" in str(info.value)
