"""Prometheus metrics in the text exposition format (version 0.0.4), with no dependency.

A :class:`MetricsRegistry` holds counters, gauges and histograms with labels;
:meth:`MetricsRegistry.render` writes what ``GET /metrics`` answers. Each
server worker keeps its own numbers (as Prometheus client libraries do without
their multi-process mode); scrape every worker, or run one per port.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: latency buckets (seconds) for request and pipeline timings
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)

LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(str(v))}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Metric:
    kind = ""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {sorted(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.documentation}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> Iterable[str]:
        raise NotImplementedError


class Counter(_Metric):
    """A value that only goes up."""

    kind = "counter"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, documentation, labelnames)
        self._values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> Iterable[str]:
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.labelnames:
            items = [((), 0.0)]  # a metric without labels always has its one sample
        for key, value in items:
            yield f"{self.name}{_labels(self.labelnames, key)} {_number(value)}"


class Gauge(_Metric):
    """A value that goes up and down (or is computed when scraped)."""

    kind = "gauge"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, documentation, labelnames)
        self._values: dict[LabelValues, float] = {}
        self._function = None

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self.inc(-amount, **labels)

    def set_function(self, function) -> None:
        """Compute the (label-less) value when scraped."""
        self._function = function

    def value(self, **labels: str) -> float:
        if self._function is not None:
            return float(self._function())
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> Iterable[str]:
        if self._function is not None:
            yield f"{self.name} {_number(float(self._function()))}"
            return
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.labelnames:
            items = [((), 0.0)]
        for key, value in items:
            yield f"{self.name}{_labels(self.labelnames, key)} {_number(value)}"


class Histogram(_Metric):
    """Observations counted into cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = (),
                 buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        super().__init__(name, documentation, labelnames)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[LabelValues, list[float]] = {}  # bucket counts, then sum, count

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = [0.0] * (len(self.buckets) + 2)
            for index, bound in enumerate(self.buckets):
                if value <= bound:
                    series[index] += 1
            series[-2] += value
            series[-1] += 1

    def time(self, **labels: str) -> _Timer:
        """``with histogram.time(): ...`` observes the block's duration."""
        return _Timer(self, labels)

    def count(self, **labels: str) -> float:
        series = self._series.get(self._key(labels))
        return series[-1] if series else 0.0

    def samples(self) -> Iterable[str]:
        with self._lock:
            items = sorted((key, list(series)) for key, series in self._series.items())
        for key, series in items:
            for index, bound in enumerate(self.buckets):
                extra = f'le="{_number(bound)}"'
                yield f"{self.name}_bucket{_labels(self.labelnames, key, extra)} " \
                      f"{_number(series[index])}"
            extra = 'le="+Inf"'
            yield f"{self.name}_bucket{_labels(self.labelnames, key, extra)} " \
                  f"{_number(series[-1])}"
            yield f"{self.name}_sum{_labels(self.labelnames, key)} {_number(series[-2])}"
            yield f"{self.name}_count{_labels(self.labelnames, key)} {_number(series[-1])}"


class _Timer:
    def __init__(self, histogram: Histogram, labels: dict[str, str]) -> None:
        self.histogram = histogram
        self.labels = labels

    def __enter__(self) -> _Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.histogram.observe(time.perf_counter() - self.start, **self.labels)


class MetricsRegistry:
    """A named set of metrics that renders as one Prometheus text page."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def _add(self, metric: _Metric) -> _Metric:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is registered twice")
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
        return self._add(Counter(name, documentation, labelnames))  # type: ignore[return-value]

    def gauge(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Gauge:
        return self._add(Gauge(name, documentation, labelnames))  # type: ignore[return-value]

    def histogram(self, name: str, documentation: str, labelnames: Sequence[str] = (),
                  buckets: Sequence[float] = DEFAULT_BUCKETS) -> Histogram:
        return self._add(Histogram(name, documentation, labelnames, buckets))  # type: ignore

    def get(self, name: str) -> _Metric:
        return self._metrics[name]

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics.values():
            lines.extend(metric.header())
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"


class ActiveConversations:
    """Conversations with a message in the last ``window`` seconds."""

    def __init__(self, window: float = 300.0) -> None:
        self.window = window
        #: when each conversation last had a message, the longest silent first
        self._last_seen: OrderedDict[str, float] = OrderedDict()

    def touch(self, sender_id: str) -> None:
        now = time.monotonic()
        self._last_seen[sender_id] = now
        self._last_seen.move_to_end(sender_id)
        # forgotten here too, not only when /metrics is read: a server nobody scrapes
        # kept every sender id it ever saw
        self._forget_silent(now)

    def count(self) -> int:
        self._forget_silent(time.monotonic())
        return len(self._last_seen)

    def _forget_silent(self, now: float) -> None:
        cutoff = now - self.window
        while self._last_seen and next(iter(self._last_seen.values())) < cutoff:
            self._last_seen.popitem(last=False)


class ServerMetrics:
    """The metrics the server records: requests, pipeline stages, conversations, models."""

    def __init__(self, active_window: float = 300.0) -> None:
        self.registry = MetricsRegistry()
        r = self.registry
        self.requests = r.counter("dfl_http_requests_total", "HTTP requests answered.",
                                  ("route", "method", "status"))
        self.request_seconds = r.histogram("dfl_http_request_duration_seconds",
                                           "Time to answer an HTTP request.", ("route",))
        self.nlu_seconds = r.histogram("dfl_nlu_duration_seconds",
                                       "Time of one NLU pass over a batch of messages.")
        self.nlu_batch_size = r.histogram("dfl_nlu_batch_size",
                                          "Messages parsed together in one NLU pass.",
                                          buckets=(1, 2, 4, 8, 16, 32, 64, 128))
        self.policy_seconds = r.histogram("dfl_policy_duration_seconds",
                                          "Time the policies took to predict one action.")
        self.action_seconds = r.histogram("dfl_action_duration_seconds",
                                          "Time one action took to run.", ("action",))
        self.message_seconds = r.histogram("dfl_message_duration_seconds",
                                           "Time from a user message to the bot's replies.",
                                           ("channel",))
        self.active = ActiveConversations(active_window)
        self.active_conversations = r.gauge(
            "dfl_active_conversations",
            f"Conversations with a message in the last {int(active_window)} seconds.")
        self.active_conversations.set_function(self.active.count)
        self.model_load_seconds = r.gauge("dfl_model_load_seconds",
                                          "Time the currently loaded model took to load.")
        self.model_loads = r.counter("dfl_model_loads_total", "Models loaded (start and swaps).")
        self.in_flight = r.gauge("dfl_http_requests_in_flight", "Requests being answered now.")

    def render(self) -> str:
        return self.registry.render()
