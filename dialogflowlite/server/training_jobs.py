"""Training from the HTTP API: Rasa's ``POST /model/train``.

The request body is one YAML document holding what a project's files would
(``config.yml`` keys such as ``pipeline`` and ``policies``, the domain's
``intents``, ``slots``, ``responses``, ... and the training data's ``nlu``,
``stories`` and ``rules``). It is split into those three files in a
temporary project, which ``dialogflowlite train`` trains in a child process:
the server keeps answering while it trains, a crash in training cannot take
the server down, and the memory training needs is given back when it ends.
When nothing changed since the newest model of the models folder, the
command writes none and names that one, which is then the answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialogflowlite.errors import ApiError
from dialogflowlite.io import formats

logger = logging.getLogger(__name__)

#: where each top-level key of the body goes (``version`` goes to all three)
CONFIG_PART = "config.yml"
DOMAIN_PART = "domain.yml"
DATA_PART = "data/training_data.yml"
_PART_OF_KEY = {
    **{key: CONFIG_PART for key in formats.CONFIG_KEYS},
    **{key: DOMAIN_PART for key in formats.DOMAIN_KEYS},
    **{key: DATA_PART for key in ("nlu", "stories", "rules")},
}


@dataclass(frozen=True)
class TrainingRequest:
    """What ``POST /model/train`` asks for."""

    #: relative file name in the project -> its content
    parts: dict[str, dict[str, Any]]
    force: bool = False
    fixed_model_name: str | None = None
    num_threads: int | None = None


def split_training_payload(text: str) -> dict[str, dict[str, Any]]:
    """The body's YAML as project files; a 400 :class:`ApiError` for a body that is not one."""
    from dialogflowlite.errors import DialogflowLiteError
    from dialogflowlite.io.yaml import read_yaml, to_plain

    try:
        data = to_plain(read_yaml(text, "request body"))
    except DialogflowLiteError as e:
        raise ApiError(400, "BadRequest", f"the request body is not valid YAML: {e}") from e
    if not isinstance(data, dict) or not data:
        raise ApiError(400, "BadRequest", "the request body must be a YAML mapping with the "
                       "project's config, domain and training data",
                       hint="send config.yml, domain.yml and the data files joined into one "
                            "YAML document")
    parts: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        if key == "version":
            continue
        part = _PART_OF_KEY.get(key)
        if part is None:
            hint = formats.did_you_mean(str(key), list(_PART_OF_KEY))
            raise ApiError(400, "BadRequest",
                           f"the request body has the key {key!r}, which is not part of a "
                           "project's config, domain or training data", hint=hint)
        parts.setdefault(part, {})[key] = value
    if DATA_PART not in parts:
        raise ApiError(400, "BadRequest", "the request body has no training data",
                       hint="add `nlu:`, `stories:` or `rules:`")
    if "version" in data:
        for content in parts.values():
            content["version"] = data["version"]
    return parts


def fixed_model_file(wanted: str) -> str:
    """The file name ``fixed_model_name`` asks for: its last part only (the model stays
    in the models folder), with ``.tar`` in place of a ``.tar`` or Rasa's ``.tar.gz``
    ending (see :func:`dialogflowlite.artifact.fixed_model_file`)."""
    from dialogflowlite.artifact import fixed_model_file as model_file_for

    return model_file_for(Path(wanted).name, "fixed_model_name")


async def train_model(request: TrainingRequest, models_dir: Path) -> Path:
    """Train the request's project into ``models_dir``; the model file to answer with.

    That is a new file, or, when nothing changed since the newest model in
    ``models_dir``, that model (no file is written, as ``dialogflowlite
    train`` and Rasa 2's ``/model/train``). A project the trainer rejects is a
    400 :class:`ApiError` with its message (file names are those of the parts,
    ``domain.yml`` ...); a training that fails otherwise is a 500. Cancelling
    the call stops the training.
    """
    from dialogflowlite.io.yaml import write_yaml

    workdir = Path(tempfile.mkdtemp(prefix="dfl-train-"))
    try:
        project = workdir / "project"
        for part, content in request.parts.items():
            (project / part).parent.mkdir(parents=True, exist_ok=True)
            write_yaml(content, project / part)
        models_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "dialogflowlite", "train", "--project", str(project),
                   "--out", str(models_dir), "-q"]
        if request.fixed_model_name:
            command += ["--fixed-model-name", fixed_model_file(request.fixed_model_name)]
        if request.force:
            command.append("--force")
        env = {**os.environ, "DFL_NO_PROGRESS": "1"}
        if request.num_threads:
            env["OMP_NUM_THREADS"] = str(request.num_threads)
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        try:
            stdout, stderr = await process.communicate()
        except asyncio.CancelledError:
            process.kill()
            await process.wait()
            raise
        message = stderr.decode("utf-8", "replace").replace(f"{project}{os.sep}", "").strip()
        if process.returncode == 1:  # the command line's exit code for a user mistake
            raise ApiError(400, "BadRequest", _last_error(message) or "the project is invalid")
        model = _model_named(stdout.decode("utf-8", "replace"), models_dir)
        if process.returncode != 0 or model is None:
            logger.error("training from the HTTP API failed (exit %s): %s",
                         process.returncode, message[-2000:])
            raise ApiError(500, "TrainingError",
                           f"training failed (exit {process.returncode}): "
                           f"{_last_error(message) or 'see the server log'}")
        return model
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _model_named(stdout: str, models_dir: Path) -> Path | None:
    """The model file the command's ``model:`` line names, if it is one in ``models_dir``."""
    lines = [line for line in stdout.splitlines() if line.startswith("model: ")]
    if not lines:
        return None
    model = Path(lines[-1][len("model: "):].strip())
    if not model.is_file() or model.resolve().parent != models_dir.resolve():
        return None
    if "Nothing changed" in stdout:
        logger.info("nothing changed since %s: answering with it", model.name)
    return model


def _last_error(stderr: str) -> str:
    """The error the command printed (from its ``error:`` line on), without log lines."""
    lines = stderr.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("error:"):
            return "\n".join(lines[index:])[len("error:"):].strip()
    return lines[-1].strip() if lines else ""
