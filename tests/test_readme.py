"""The README's two commands stay what CI and a new user actually run."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S)]


def test_readme_opens_with_setup_then_test_command():
    blocks = _bash_blocks((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    setup, test_command = blocks[0], blocks[1]
    # The set-up pins the CPU build of torch and runs the template end to end.
    assert "pip install torch==2.13.0" in setup
    for step in ("dialogflowlite init", "dialogflowlite shell"):
        assert step in setup, f"the README set-up lacks {step!r}"
    # --no-prompt trains the new project; without it init asks in a terminal and
    # offers a chat of its own before the README's shell, so the user chatted twice
    assert "dialogflowlite init --no-prompt" in setup
    assert test_command.startswith("python -m pytest")


def test_ci_runs_the_readme_test_command_and_installs_its_plugins():
    blocks = _bash_blocks((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    ci_lines = [line.strip() for line in (REPO_ROOT / ".ci/run").read_text().splitlines()]
    assert blocks[1] in ci_lines, "`.ci/run` does not run the README's test command"
    readme_packages = set(re.findall(r"-e (\S+)", blocks[0])) - {"."}
    ci_text = "\n".join(ci_lines)
    for package in readme_packages:
        assert f"-e {package}" in ci_text, f"`.ci/run` does not install {package}"
    assert "torch==2.13.0" in ci_text
