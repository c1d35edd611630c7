"""``dialogflowlite shell`` fed what a Rasa user's terminal and files feed it.

Input that is not UTF-8 (a Latin-1 file piped in, a stray byte) must cost one
garbled message, not the conversation: Python's stdin either refuses such
bytes (a traceback) or passes them on as lone surrogates, which no tracker
store can write.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SQLITE_STORE = "tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: trackers.db\n"


def _shell(project: Path, stdin: bytes, encoding: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    return subprocess.run(
        [sys.executable, "-m", "dialogflowlite.cli.main", "shell", "--project", str(project),
         "--history", str(project / "history")],
        input=stdin, capture_output=True, env=env, timeout=120)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8:surrogateescape"])
def test_undecodable_input_is_one_garbled_message_not_the_end(tiny_bot: Path,
                                                               encoding: str) -> None:
    (tiny_bot / "endpoints.yml").write_text(SQLITE_STORE, encoding="utf-8")
    result = _shell(tiny_bot, b"caf\xe9 \xff\xfe\n/greet\n", encoding)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr
    # the conversation went on after the bad line
    assert "Hello! How can I help?" in result.stdout.decode("utf-8", "replace")


def test_emoji_and_other_scripts_pass_through(tiny_bot: Path) -> None:
    import json

    result = _shell(tiny_bot, "😀 привет\n".encode(), "utf-8")
    assert result.returncode == 0, result.stderr.decode()
    result = subprocess.run(
        [sys.executable, "-m", "dialogflowlite.cli.main", "shell", "nlu", "--project",
         str(tiny_bot), "--history", str(tiny_bot / "history")],
        input="😀 привет\n".encode(), capture_output=True, timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    out = result.stdout.decode("utf-8")
    parsed = json.loads(out[out.index("{"):out.rindex("}") + 1])
    assert parsed["text"] == "😀 привет"
