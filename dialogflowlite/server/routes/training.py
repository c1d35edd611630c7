"""``POST /model/train``: train a model from a project sent as one YAML body (Rasa's route).

Query parameters, as Rasa's: ``save_to_default_model_directory`` (default
true: the model is kept in the project's ``models/``; false: it is only
returned), ``force_training``, ``fixed_model_name``, ``num_threads`` and
``callback_url`` (answer 204 at once; the model, or the error, is POSTed
there when training ends: :mod:`dialogflowlite.server.callbacks`). The
answer is the model file: a new one, or the newest saved one when nothing
changed since it (as Rasa 2). Training runs in a child process
(:mod:`dialogflowlite.server.training_jobs`), one at a time across the
server's workers (later requests wait their turn); the running model is not
replaced (``PUT /model`` loads the new one).

The body is the whole project: a config that reads other files (``imports:``,
or an importer setting such as ``training_data_paths``) is refused with one
400, since those paths would be taken from the temporary project that holds
the body, where nothing is (Rasa trains without them and says nothing).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ApiError
from dialogflowlite.server.callbacks import CallbackResult, answer_later, callback_url
from dialogflowlite.server.long_requests import allow_long_response, receive_large_body
from dialogflowlite.server.process_lock import process_lock
from dialogflowlite.server.training_jobs import (
    CONFIG_PART,
    TrainingRequest,
    split_training_payload,
    train_model,
)
from dialogflowlite.server.validation import query_flag

if TYPE_CHECKING:
    from sanic import Blueprint, Request, Sanic
    from sanic.response import HTTPResponse


def train_lock_path(project_dir: Path) -> Path:
    """The file the workers serving ``project_dir`` take turns on to train.

    It lives in the temporary folder, named for the project, so that a
    training that keeps nothing writes nothing into the project.
    """
    import hashlib

    key = hashlib.sha256(str(Path(project_dir).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"dialogflowlite-train-{key}.lock"


def _threads(request: Request) -> int | None:
    from dialogflowlite.server.validation import bad_request

    raw = request.args.get("num_threads")
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise bad_request("num_threads must be a positive whole number",
                          parameter="num_threads", location="query")
    return int(raw)


#: importer settings that name files or folders (see dialogflowlite.io.importers)
_PATH_SETTINGS = ("config_file", "domain_path", "training_data_paths", "project_directory")


def refuse_other_files(config: dict[str, Any]) -> None:
    """A 400 :class:`ApiError` when the body's ``config`` reads files other than the
    body: ``imports:`` (MultiProjectImporter's projects) or an importer setting
    that names a path.

    The body is written into a temporary project of its own, so such paths would
    be taken from there and name nothing; Rasa, which writes the body to a
    temporary folder too, trains without them and says nothing. The projects a
    body needs are sent in it instead.
    """
    hint = ("send the imported projects' domain and data merged into the body, or "
            "train the project where its files are (`dialogflowlite train`)")
    if config.get("imports"):
        error = ApiError(
            400, "BadRequest",
            "`imports:` is not available through the training body: the body is the "
            "whole project, so the projects it imports cannot be read", hint=hint)
        error.details = {"parameter": "imports", "in": "body"}
        raise error
    importers = config.get("importers")
    # a malformed `importers:` is left to the loader, which names its line
    for entry in importers if isinstance(importers, list) else []:
        named = [key for key in _PATH_SETTINGS
                 if isinstance(entry, dict) and entry.get(key) is not None]
        if named:
            error = ApiError(
                400, "BadRequest",
                f"importer setting {named[0]!r} is not available through the training "
                "body: the body is the whole project, so the files it names cannot be "
                "read", hint=hint)
            error.details = {"parameter": "importers", "in": "body"}
            raise error


def training_request(request: Request) -> TrainingRequest:
    """The training a ``POST /model/train`` request asks for (a 400 when it cannot be)."""
    from dialogflowlite.server.validation import yaml_body

    text = yaml_body(request, "the training data",
                     "send the project's config, domain and data joined into one YAML "
                     "document with Content-Type: application/yaml")
    parts = split_training_payload(text)
    refuse_other_files(parts.get(CONFIG_PART, {}))
    return TrainingRequest(parts,
                           force=query_flag(request, "force_training", False),
                           fixed_model_name=request.args.get("fixed_model_name") or None,
                           num_threads=_threads(request))


async def _train(app: Sanic, job: TrainingRequest, save: bool) -> tuple[Path, Path | None]:
    """The model file, and a temporary folder holding it when it is not saved.

    One model is trained at a time, across all workers (a training takes
    what memory and cores there are); later requests wait for their turn.
    """
    lock = getattr(app.ctx, "training_lock", None)
    if lock is None:
        lock = app.ctx.training_lock = asyncio.Lock()
    # The asyncio lock queues this worker's requests; the file lock makes the
    # workers (each a process) take turns too.
    async with lock, process_lock(train_lock_path(app.ctx.config.project_dir)):
        app.ctx.training_jobs = getattr(app.ctx, "training_jobs", 0) + 1
        scratch = None if save else Path(tempfile.mkdtemp(prefix="dfl-model-"))
        try:
            models_dir = app.ctx.config.project_dir / "models" if save else scratch
            return await train_model(job, models_dir), scratch
        except BaseException:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            raise
        finally:
            app.ctx.training_jobs -= 1


async def _trained_model(app: Sanic, job: TrainingRequest, save: bool) -> CallbackResult:
    """Train; the model file as a ``callback_url`` gets it (with its ``filename``)."""
    model, scratch = await _train(app, job, save)
    try:
        return CallbackResult(model.read_bytes(), "application/octet-stream",
                              {"filename": model.name})
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def blueprint() -> Blueprint:
    from sanic import Blueprint
    from sanic.response import raw

    bp = Blueprint("training_api")

    @bp.post("/model/train", name="train", ctx_auth=True, ctx_no_model=True, stream=True)
    async def train(request: Request) -> HTTPResponse:
        allow_long_response(request)
        await receive_large_body(request)
        job = training_request(request)
        save = query_flag(request, "save_to_default_model_directory", True)
        url = callback_url(request)
        if url:
            return answer_later(request, url,
                                lambda: _trained_model(request.app, job, save), "the training")
        model, scratch = await _train(request.app, job, save)
        try:
            body = model.read_bytes()
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
        return raw(body, content_type="application/octet-stream",
                   headers={"filename": model.name,
                            "Content-Disposition": f'attachment; filename="{model.name}"'})

    return bp
