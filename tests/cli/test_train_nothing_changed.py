"""``dialogflowlite train`` with nothing changed: Rasa 2's "Nothing changed" line, no
new model file, and the old model's path, so ``train && run`` still serves it."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyword_bot import CONFIG, DOMAIN, NLU, RULES

from dialogflowlite.cli.main import main


@pytest.fixture
def project(write_project) -> Path:
    return write_project(domain=DOMAIN, nlu=NLU, rules=RULES, config=CONFIG)


def _train(project: Path, *extra: str) -> int:
    return main(["train", "--project", str(project), *extra])


def test_the_command_says_nothing_changed_and_names_the_old_model(project, capsys) -> None:
    assert _train(project) == 0
    [model] = (project / "models").glob("*.tar")
    capsys.readouterr()
    assert _train(project) == 0
    out = capsys.readouterr().out
    assert f"Nothing changed. You can use the old model stored at '{model.resolve()}'." in out
    assert f"model: {model}" in out
    assert "trained (0): -" in out and "reused (3)" in out
    assert list((project / "models").glob("*.tar")) == [model]


def test_force_and_a_new_fixed_name_write_a_model(project, capsys) -> None:
    assert _train(project) == 0
    assert _train(project, "--force") == 0
    assert "Nothing changed" not in capsys.readouterr().out
    assert len(list((project / "models").glob("*.tar"))) == 2

    assert _train(project, "--fixed-model-name", "stable") == 0
    assert "Nothing changed" not in capsys.readouterr().out
    stable = project / "models" / "stable.tar"
    stamp = stable.stat().st_mtime_ns
    assert _train(project, "--fixed-model-name", "stable") == 0
    assert (f"Nothing changed. You can use the old model stored at '{stable.resolve()}'."
            in capsys.readouterr().out)
    assert stable.stat().st_mtime_ns == stamp
    assert len(list((project / "models").glob("*.tar"))) == 3


def test_a_dry_run_says_whether_a_model_would_be_written(project, capsys) -> None:
    assert _train(project) == 0
    capsys.readouterr()
    assert _train(project, "--dry-run") == 0
    assert "Nothing changed: training would write no new model" in capsys.readouterr().out
    (project / "domain.yml").write_text(DOMAIN.replace("Hello!", "Hey!"), encoding="utf-8")
    assert _train(project, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "No component needs training." in out
    assert "training would write a new model from the reused components" in out


def test_quantize_on_a_model_with_nothing_to_quantize_says_so(project, capsys) -> None:
    # a keyword classifier and rules have no int8 weights: "Nothing changed" alone read
    # as if the flag had been taken
    assert _train(project) == 0
    capsys.readouterr()
    assert _train(project, "--quantize") == 0
    captured = capsys.readouterr()
    assert "--quantize: no component of this model has int8 weights to take" in \
        captured.out + captured.err
