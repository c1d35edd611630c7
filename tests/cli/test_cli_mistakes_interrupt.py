"""Stopping `train` half-way (Ctrl-C, ``kill``, ``docker stop``) leaves no half-made model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

#: runs `train` with the first recorded component held up, so a signal finds it mid-way
SLOW_TRAIN = textwrap.dedent("""
    import sys, time
    from dialogflowlite import artifact
    record = artifact.ModelWriter.record

    def held_up(self, entry):
        record(self, entry)
        print("training", flush=True)
        time.sleep(120)

    artifact.ModelWriter.record = held_up
    from dialogflowlite.cli.main import main
    sys.exit(main(["train", "--project", sys.argv[1]]))
""")


@pytest.mark.parametrize(("signum", "code", "said"), [
    (signal.SIGTERM, 143, "terminated"),
    (signal.SIGINT, 130, "interrupted"),
])
def test_a_stopped_training_leaves_no_work_folder_and_no_model(tmp_path: Path, signum: int,
                                                               code: int, said: str) -> None:
    import serving_helpers

    project = serving_helpers.write_tiny_project(tmp_path / "bot")
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = subprocess.Popen([sys.executable, "-c", SLOW_TRAIN, str(project)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TMPDIR": str(temp)})
    try:
        assert process.stdout.readline().strip() == "training"
        assert list(temp.glob("dfl-model-*")), "the work folder of the training"
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # before: SIGTERM ended the process on the spot (-15), its work folder left in TMPDIR
    assert process.returncode == code, err
    assert said in err
    assert not list(temp.glob("dfl-model-*"))
    models = project / "models"
    assert not models.exists() or not any(models.iterdir())
