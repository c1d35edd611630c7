"""Timing the dialogue pipeline of a served agent for ``/metrics``.

The processor runs policies and actions inside one call per message; to see
how long each part takes, the served agent's processor gets thin timing
wrappers around its two steps (predicting the next action, running it). The
agent behaves exactly as before.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from dialogflowlite.server.metrics import ServerMetrics

logger = logging.getLogger(__name__)

_MARK = "_dfl_metrics"


def instrument_agent(agent: Any, metrics: ServerMetrics) -> None:
    """Record policy and action timings of ``agent`` in ``metrics`` (once per agent)."""
    processor = getattr(agent, "processor", None)
    if processor is None or getattr(processor, _MARK, None) is metrics:
        return
    setattr(processor, _MARK, metrics)
    predict = type(processor).predict_next_action
    run_action = getattr(type(processor), "_run_action", None)

    @functools.wraps(predict)
    def timed_predict(tracker: Any) -> Any:
        started = time.perf_counter()
        try:
            return predict(processor, tracker)
        finally:
            metrics.policy_seconds.observe(time.perf_counter() - started)

    processor.predict_next_action = timed_predict
    if run_action is None:
        logger.debug("the processor has no _run_action step; action timings are not recorded")
        return

    @functools.wraps(run_action)
    async def timed_run_action(tracker: Any, context: Any, prediction: Any) -> Any:
        started = time.perf_counter()
        try:
            return await run_action(processor, tracker, context, prediction)
        finally:
            metrics.action_seconds.observe(time.perf_counter() - started,
                                           action=str(prediction.action_name))

    processor._run_action = timed_run_action
