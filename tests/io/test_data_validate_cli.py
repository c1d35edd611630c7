"""``dialogflowlite data validate``: problems, summary line and exit code."""

from __future__ import annotations

import subprocess
import sys

from validation_data import GREET_GOODBYE_NLU as NLU
from validation_data import GREET_STORIES as STORIES

from dialogflowlite.cli.main import main

DOMAIN = """
version: "3.1"
intents: [greet, goodbye]
responses:
  utter_greet: [{text: Hi}]
"""

#: the goodbye intent is used too, so that nothing is reported unused
RULES = """
version: "3.1"
rules:
  - rule: goodbye
    steps:
      - intent: goodbye
      - action: utter_greet
"""


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["data", "validate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_clean_project_prints_the_summary_and_exits_0(write_project, capsys) -> None:
    root = write_project(domain=DOMAIN, nlu=NLU, stories=STORIES, rules=RULES)
    code, out, _ = run(capsys, "--project", str(root))
    assert code == 0
    assert out.splitlines() == [
        f"0 error(s), 0 warning(s) in {root}: 2 intents, 3 examples, 0 entities, 0 slots, "
        "0 forms, 1 responses, 1 stories, 1 rules, 0 test stories"
    ]


def test_errors_are_printed_as_file_line_col_and_exit_1(write_project, capsys) -> None:
    root = write_project(
        domain=DOMAIN, nlu=NLU, stories=STORIES + "      - action: utter_goodbye\n",
        rules=RULES
    )
    code, out, _ = run(capsys, "--project", str(root))
    assert code == 1
    problem, summary = out.splitlines()
    assert problem == (
        f"{root / 'data/stories.yml'}:7:9: error: story 'greet' runs 'utter_goodbye' but no "
        "response of that name exists (hint: did you mean 'utter_greet'?)"
    )
    assert summary.startswith("1 error(s), 0 warning(s) in ")


def test_yaml_syntax_error_is_a_problem_not_a_traceback(write_project, capsys) -> None:
    root = write_project(domain=DOMAIN, nlu=NLU, stories="stories:\n  - story: x\n   steps: []\n")
    code, out, err = run(capsys, "--project", str(root))
    assert code == 1
    assert f"{root / 'data/stories.yml'}:3:4: error: invalid YAML" in out
    assert "Traceback" not in out + err


def test_warnings_fail_only_when_asked(write_project, capsys) -> None:
    root = write_project(
        domain=DOMAIN, nlu=NLU.replace("      - bye\n", "      - Hi\n"), stories=STORIES,
        rules=RULES
    )
    code, out, _ = run(capsys, "--project", str(root))
    assert code == 0
    assert "warning: example 'Hi' is under intent 'goodbye' and also under 'greet'" in out
    assert "0 error(s), 1 warning(s)" in out
    code, _, _ = run(capsys, "--project", str(root), "--fail-on-warnings")
    assert code == 1


def test_missing_project_folder_is_one_clear_error(tmp_path, capsys) -> None:
    code, _, err = run(capsys, "--project", str(tmp_path / "nowhere"))
    assert code == 1
    assert err.startswith(f"error: project folder {tmp_path / 'nowhere'} does not exist")
    assert "Traceback" not in err


def test_the_console_command_runs_in_the_current_folder(write_project) -> None:
    root = write_project(domain=DOMAIN, nlu=NLU, stories=STORIES + "      - intent: bye\n")
    result = subprocess.run(
        [sys.executable, "-m", "dialogflowlite.cli.main", "data", "validate"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "data/stories.yml:7:9: error: story 'greet' uses intent 'bye'" in result.stdout
    assert "Traceback" not in result.stderr


def test_validating_the_template_imports_no_model_library() -> None:
    """Checking a project (every built-in component's settings included) needs no torch:
    `data validate` and a training that reuses every component stay quick."""
    from pathlib import Path

    template = Path(__file__).resolve().parents[2] / "projects_template" / "en"
    script = (
        "import sys\n"
        "from dialogflowlite.io.loader import load_project\n"
        "from dialogflowlite.io.validate import validate_project\n"
        f"problems = validate_project(load_project({str(template)!r}))\n"
        "assert not [p for p in problems if p.is_error], problems\n"
        "print(sorted(m for m in ('torch', 'transformers', 'spacy') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_unknown_and_out_of_range_settings_are_reported_together(write_project, capsys) -> None:
    config = """
    policies:
      - name: MemoizationPolicy
        max_histroy: 3
        max_history: 0
    """
    root = write_project(domain=DOMAIN, nlu=NLU, stories=STORIES, rules=RULES, config=config)
    code, out, _ = run(capsys, "--project", str(root))
    assert code == 1
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "MemoizationPolicy has 2 bad" in line)
    assert lines[start].endswith("error: component MemoizationPolicy has 2 bad settings:")
    assert "no setting 'max_histroy'" in lines[start + 1]
    assert "setting 'max_history' must be a whole number of at least 1, not 0" in lines[start + 2]
