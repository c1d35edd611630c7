"""Which model the server runs, and loading it with the configured stores."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ModelLoadError

if TYPE_CHECKING:
    from dialogflowlite.agent import Agent
    from dialogflowlite.server.app import ServerConfig

logger = logging.getLogger(__name__)


def resolve_model_path(config: ServerConfig, requested: str | None = None) -> Path:
    """``requested`` (or ``--model``), relative to the project; else the newest under models/."""
    from dialogflowlite.artifact import latest_model

    project = config.project_dir
    wanted = requested or config.model_path
    if wanted:
        path = Path(wanted).expanduser()
        if not path.is_absolute():
            path = project / path if (project / path).exists() else path.resolve()
        if path.is_dir() and not (path / "manifest.json").exists():
            newest = latest_model(path)
            if newest is None:
                raise ModelLoadError(f"no model file in {path.name}/",
                                     hint="train one with `dialogflowlite train`")
            return _prefer_whole_model(path, newest)
        if not path.exists():
            raise ModelLoadError(f"no model at {wanted}",
                                 hint="pass the path of a model file made by `train`")
        return path
    if not project.is_dir():
        raise ModelLoadError(f"the project folder {project} does not exist",
                             hint="pass the folder of an existing project with --project")
    newest = latest_model(project / "models")
    if newest is None:
        raise ModelLoadError(f"no model under {project.name}/models/",
                             hint="train one with `dialogflowlite train`, or pass --model PATH")
    return _prefer_whole_model(project / "models", newest)


#: (served, skipped) model pairs already explained in the log
_told: set[tuple[Path, Path]] = set()


def _prefer_whole_model(folder: Path, newest: Path) -> Path:
    """``newest``, unless it cannot hold conversations and an older model in ``folder`` can.

    `train nlu` (or `data split nlu` and `train nlu --nlu ...`) writes a model
    without dialogue policies; serving it would answer nothing, so the newest
    whole model is served, and the log says so. `--model` serves any model.
    """
    from dialogflowlite.artifact import latest_model_with, read_manifest

    manifest = read_manifest(newest)
    if manifest is None or manifest.sections.get("core"):
        return newest
    whole = latest_model_with(folder, "core")
    if whole is None:
        return newest
    if (whole, newest) in _told:  # `run` resolves the model twice: say it once
        return whole
    _told.add((whole, newest))
    parts = ", ".join(sorted(k for k, v in manifest.sections.items() if v)) or "nothing"
    logger.warning("serving %s, the newest model that holds conversations: %s is newer but "
                   "has only %s (pass --model %s to serve it)", whole.name, newest.name, parts,
                   newest.name)
    return whole


def load_server_agent(config: ServerConfig, model_file: Path | None = None,
                      stores: tuple[Any, Any, Any] | None = None) -> tuple[Agent, Path]:
    """Load the model with the stores endpoints.yml configures (or the ones given).

    ``stores`` is (tracker store, lock store, event broker or None).
    """
    from dialogflowlite.agent import Agent
    from dialogflowlite.stores.factory import create_lock_store, create_tracker_store

    model_file = model_file or resolve_model_path(config)
    if config.torch_threads:
        import torch

        torch.set_num_threads(config.torch_threads)
    endpoints = config.read_endpoints()
    if stores is None:
        from dialogflowlite.brokers.base import create_event_broker

        tracker_store = create_tracker_store(endpoints.get("tracker_store"),
                                             project=config.project_dir,
                                             default_sqlite=config.tracker_db)
        lock_store = create_lock_store(endpoints.get("lock_store"), project=config.project_dir,
                                       tracker_store=tracker_store, workers=config.workers)
        event_broker = create_event_broker(endpoints.get("event_broker"),
                                           project=config.project_dir)
    else:
        tracker_store, lock_store, event_broker = stores
    agent = Agent.load(model_file, tracker_store=tracker_store, lock_store=lock_store,
                       endpoints=endpoints, quantize=config.quantize, event_broker=event_broker)
    agent.warn_about_unreachable_actions()
    warm_up(agent)
    return agent, model_file


#: parsed once after loading: one message alone and a padded batch of two
WARM_UP_TEXTS = ("hello", "hello there, how are you?")


def warm_up(agent: Any) -> None:
    """Parse a few throwaway messages so the first real ones do not pay one-time costs.

    The NLU encoder is traced on first use (once alone, once in a padded batch)
    and PyTorch sizes its buffers; done while loading, that happens before
    the server answers (or, for ``PUT /model``, while the old model still
    does). Nothing is stored: parsing touches no conversation.
    """
    if agent.nlu is None:
        return
    try:
        agent.nlu.parse_batch([WARM_UP_TEXTS[0]])
        agent.nlu.parse_batch(list(WARM_UP_TEXTS))
    except Exception as e:  # a real message would fail the same way, with its own error
        logger.warning("warming up the NLU model failed: %s", e)


async def close_stores(agent: Any) -> None:
    """Close the agent's tracker and lock stores and event broker, if they hold connections."""
    for store in (getattr(agent, "tracker_store", None), getattr(agent, "lock_store", None),
                  getattr(agent, "event_broker", None)):
        # a broker first publishes what is still queued
        close = getattr(store, "shutdown", None) or getattr(store, "close", None)
        if close is None:
            continue
        try:
            result = close()
            if inspect.isawaitable(result):
                await result
        except Exception as e:  # closing must not keep the server from stopping
            logger.warning("closing %s failed: %s", type(store).__name__, e)


def retire_agent(app: Any, agent: Any) -> None:
    """Remember ``agent``, just swapped out, so that the server's stop also closes its
    reminders (they would otherwise fire into closed stores).

    Held weakly: an agent without pending reminders is freed as before; one
    with them is kept alive by their timers until they fire or are closed.
    """
    processor = getattr(agent, "processor", None)
    retired = getattr(app.ctx, "retired_processors", None)
    if processor is not None and retired is not None:
        retired.add(processor)


def model_fingerprints(model_file: Path) -> dict[str, str]:
    """Component key -> fingerprint, from the model's manifest (``GET /status``)."""
    from dialogflowlite.artifact import open_model

    try:
        archive = open_model(model_file)
    except ModelLoadError:
        return {}
    return {c.key: c.fingerprint for c in archive.manifest.components}


async def swap_model(app: Any, requested: str) -> Path:
    """Load ``requested`` next to the running model, then switch to it (``PUT /model``).

    Loading happens in a worker thread while the old model keeps answering;
    the switch is one assignment, so every message runs on exactly one of the
    two. The new agent reuses the stores of the old one (same conversations,
    same connections), and nothing keeps the old agent alive afterwards but
    its reminders not yet due: they still fire on it, as Rasa's scheduled jobs
    keep the processor that scheduled them, and the server's stop cancels them
    (see :func:`retire_agent`).
    """
    import asyncio
    import time

    config = app.ctx.config
    async with app.ctx.model_swap_lock:
        model_file = resolve_model_path(config, requested)
        old = app.ctx.agent
        stores = ((old.tracker_store, old.lock_store, old.event_broker) if old is not None
                  else None)
        started = time.perf_counter()
        agent, model_file = await asyncio.get_running_loop().run_in_executor(
            None, load_server_agent, config, model_file, stores)
        app.ctx.agent = agent
        app.ctx.model_file = model_file
        app.ctx.model_fingerprints = model_fingerprints(model_file)
        seconds = time.perf_counter() - started
        app.ctx.metrics.model_load_seconds.set(seconds)
        app.ctx.metrics.model_loads.inc()
        logger.info("switched to model %s (loaded in %.2f s)", model_file.name, seconds)
        retire_agent(app, old)
        del old
        return model_file
