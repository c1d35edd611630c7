"""Rasa's ``rasa train`` options on ``dialogflowlite train``."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyword_bot import CONFIG, DOMAIN, NLU, RULES

from dialogflowlite.artifact import open_model
from dialogflowlite.cli.main import main
from dialogflowlite.cli.train import set_augmentation
from dialogflowlite.io.loader import load_project

MORE_NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - good morning
"""

WARNING_DOMAIN = DOMAIN.replace("[greet, bye]", "[greet, bye, lonely]")


@pytest.fixture
def project(write_project) -> Path:
    return write_project(domain=DOMAIN, nlu=NLU, rules=RULES, config=CONFIG)


def _train(project: Path, *extra: str) -> int:
    return main(["train", "--project", str(project), *extra])


def test_dry_run_says_what_training_would_do_with_rasas_exit_codes(project, capsys) -> None:
    assert _train(project, "--dry-run") == 1  # no model yet
    assert "no previous model" in capsys.readouterr().out
    assert not (project / "models").exists()

    assert _train(project) == 0
    capsys.readouterr()
    assert _train(project, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "nlu: up to date" in out and "core: up to date" in out
    assert "No training needed." in out
    assert _train(project, "--dry-run", "--force") == 8
    capsys.readouterr()
    assert _train(project, "--dry-run", "--finetune") == 1
    assert "--finetune: the components that can be fine-tuned" in capsys.readouterr().out
    models = sorted((project / "models").glob("*.tar"))

    # new examples: only the NLU is out of date, and nothing is written
    (project / "data" / "more.yml").write_text(MORE_NLU, encoding="utf-8")
    capsys.readouterr()
    assert _train(project, "--dry-run") == 1
    out = capsys.readouterr().out
    assert "nlu: would be trained" in out and "core: up to date" in out
    assert sorted((project / "models").glob("*.tar")) == models
    assert _train(project, "nlu", "--dry-run") == 1
    assert _train(project, "core", "--dry-run") == 0


def test_dry_run_judges_the_data_and_settings_training_would_use(project, capsys) -> None:
    assert _train(project) == 0
    (project / "more.yml").write_text(MORE_NLU, encoding="utf-8")
    capsys.readouterr()
    # other NLU data would train the NLU again; int8 weights would not (a flag of the saved
    # settings, on components that have one: none here)
    assert _train(project, "--dry-run", "--nlu", "more.yml") == 1
    assert "nlu: would be trained" in capsys.readouterr().out
    assert _train(project, "--dry-run", "--quantize") == 0
    assert _train(project, "--dry-run") == 0


def test_dry_run_refuses_what_training_refuses(project, capsys) -> None:
    # before, `train nlu --dry-run -u domain.yml` said "No training needed." (exit 0)
    assert _train(project) == 0
    capsys.readouterr()
    for extra in ((), ("--dry-run",)):
        assert _train(project, "nlu", "-u", "domain.yml", *extra) == 1
        # it said "nothing to train ... the project has none", not what -u had named
        assert "domain.yml holds no NLU data (its sections are" in capsys.readouterr().err
    # a stories file without stories is refused before anything is compared
    assert _train(project, "core", "--dry-run", "--force", "--stories", "domain.yml") == 1
    assert "--stories domain.yml: no stories in" in capsys.readouterr().err


def test_dry_run_without_a_domain_is_one_error(project, capsys) -> None:
    # before, the missing domain stood among an error for every intent and response
    assert _train(project, "--dry-run", "-d", "nosuch") == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    assert "the domain nosuch does not exist" in err


def test_domain_data_and_config_from_elsewhere(project, tmp_path, capsys) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "extra_nlu.yml").write_text(MORE_NLU, encoding="utf-8")
    (elsewhere / "nlu_only.yml").write_text(CONFIG.split("policies:")[0], encoding="utf-8")
    assert _train(project, "--data", "data/nlu.yml", str(elsewhere / "extra_nlu.yml"),
                  "--config", str(elsewhere / "nlu_only.yml"),
                  "--fixed-model-name", "m") == 0
    with open_model(project / "models" / "m.tar") as model:
        sections = {name for name, entry in model.manifest.sections.items() if entry}
        assert sections == {"nlu"}  # that config has no policies, and no rules were given
        assert model.manifest.sections["nlu"]["examples"] == 5
    other_domain = tmp_path / "domain_copy.yml"
    other_domain.write_text(DOMAIN.replace("[greet, bye]", "[greet, bye, extra]"),
                            encoding="utf-8")
    assert _train(project, "--domain", str(other_domain), "--fixed-model-name", "d") == 0
    with open_model(project / "models" / "d.tar") as model:
        assert "extra" in model.storage("domain").read_json("domain.json")["intents"]


def test_a_missing_path_is_one_clear_error(project, capsys) -> None:
    assert _train(project, "--data", "nowhere") == 1
    err = capsys.readouterr().err
    assert "the training data nowhere does not exist" in err and "--data" in err
    # stories to train on are training stories, not test stories
    assert _train(project, "--stories", "nosuch") == 1
    err = capsys.readouterr().err
    assert "training stories" in err and "nosuch do not exist" in err
    assert "test stories" not in err
    # a file without stories would have trained on the rules alone
    (project / "only_nlu.yml").write_text('version: "3.1"\nnlu: []\n')
    assert _train(project, "--stories", "only_nlu.yml") == 1
    assert "--stories only_nlu.yml: no stories in" in capsys.readouterr().err


def test_validation_warnings_can_stop_training_or_the_check_be_skipped(write_project,
                                                                       capsys) -> None:
    project = write_project(domain=WARNING_DOMAIN, nlu=NLU, rules=RULES, config=CONFIG)
    assert _train(project, "--fail-on-validation-warnings") == 1
    err = capsys.readouterr().err
    assert "warning(s)" in err and "intent 'lonely' has no NLU examples" in err
    assert not (project / "models").exists()
    assert _train(project) == 0  # a warning alone does not stop a plain training
    assert _train(project, "--skip-validation", "--force") == 0
    assert _train(project, "--skip-validation", "--fail-on-validation-warnings") == 1
    assert "contradict" in capsys.readouterr().err


def test_num_threads_caps_torch(project, monkeypatch) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        assert _train(project, "--num-threads", "1") == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_num_threads_below_one_is_a_usage_error(project, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        _train(project, "--num-threads", "0")
    assert exited.value.code == 2
    assert "--num-threads: must be 1 or more, not 0" in capsys.readouterr().err
    assert not (project / "models").exists()


def test_augmentation_reaches_the_policies_that_have_it(write_project) -> None:
    config = CONFIG + "- name: TransformerPolicy\n  epochs: 1\n- name: MemoizationPolicy\n"
    project = load_project(write_project(domain=DOMAIN, nlu=NLU, rules=RULES, config=config))
    set_augmentation(project, 0)
    by_name = {entry.name: entry.params for entry in project.config.policies}
    assert by_name["TransformerPolicy"]["augmentation"] == 0
    assert "augmentation" not in by_name["RulePolicy"]
    assert "augmentation" not in by_name["MemoizationPolicy"]
    with pytest.raises(Exception, match="0 or more"):
        set_augmentation(project, -1)


def test_augmentation_reaches_the_default_policies_of_a_config_without_any(write_project,
                                                                           caplog) -> None:
    from dialogflowlite.components.policies.training import build_policies

    config = CONFIG[:CONFIG.index("policies:")] + "policies:\n"  # as `rasa init` writes it
    project = load_project(write_project(domain=DOMAIN, nlu=NLU, rules=RULES, config=config))
    assert project.config.policies == []
    set_augmentation(project, 0)
    built = {entry.name: entry.policy.config for entry in build_policies(project)}
    assert built["TransformerPolicy"]["augmentation"] == 0
    assert "changes nothing" not in caplog.text


def test_augmentation_reaches_a_policy_given_by_its_rasa_name(write_project) -> None:
    from dialogflowlite.components.policies.training import build_policies

    config = CONFIG + "- name: TEDPolicy\n  max_history: 3\n  epochs: 100\n"
    project = load_project(write_project(domain=DOMAIN, nlu=NLU, rules=RULES, config=config))
    set_augmentation(project, 0)
    built = {entry.name: entry.policy.config for entry in build_policies(project)}
    assert built["TransformerPolicy"]["augmentation"] == 0
    assert built["TransformerPolicy"]["max_history"] == 3


CONTRADICTING_STORIES = """
version: "3.1"
stories:
- story: long
  steps:
  - intent: bye
  - action: utter_greet
  - intent: greet
  - action: utter_bye
- story: short
  steps:
  - intent: greet
  - action: utter_greet
  - intent: greet
  - action: utter_greet
"""

MEMO_CONFIG = """
language: en
pipeline:
- name: WhitespaceTokenizer
- name: KeywordIntentClassifier
policies:
- name: MemoizationPolicy
  max_history: 3
"""


def test_validation_max_history_is_the_contradiction_checks(write_project, capsys) -> None:
    # the two stories differ only two turns back: they contradict with a history of 1
    project = write_project(domain=DOMAIN, nlu=NLU, stories=CONTRADICTING_STORIES,
                            config=MEMO_CONFIG)
    assert _train(project, "core", "--validation-max-history", "1") == 1
    assert "story 'short' contradicts story 'long'" in capsys.readouterr().err
    assert _train(project, "core") == 0
    with pytest.raises(SystemExit) as exited:
        _train(project, "core", "--validation-max-history", "0")
    assert exited.value.code == 2


def test_a_part_swallowed_by_data_says_where_to_write_it(project, capsys) -> None:
    assert _train(project, "--data", "data", "nlu") == 1
    err = capsys.readouterr().err
    assert "--data took 'nlu' as a path" in err and "write `train nlu` before the options" in err
