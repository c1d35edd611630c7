"""``/metrics``: Prometheus text with request, pipeline, conversation and model numbers."""

from __future__ import annotations

import asyncio
import re

from serving_helpers import request

from dialogflowlite.server.metrics import MetricsRegistry

SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (-?[0-9.e+-]+|\+Inf|NaN)$')


def parse_metrics(text: str) -> dict[str, float]:
    """``{'name{labels}': value}`` of every sample; fails on any line out of format."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        match = SAMPLE.match(line)
        assert match, f"not Prometheus text: {line!r}"
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def test_registry_writes_the_text_format() -> None:
    registry = MetricsRegistry()
    counter = registry.counter("jobs_total", "Jobs done.", ("kind",))
    histogram = registry.histogram("job_seconds", "Job time.", buckets=(0.1, 1.0))
    counter.inc(kind='say "hi"\n')
    counter.inc(2, kind="b")
    histogram.observe(0.05)
    histogram.observe(0.5)
    histogram.observe(5)
    text = registry.render()
    assert "# TYPE jobs_total counter" in text and "# TYPE job_seconds histogram" in text
    samples = parse_metrics(text)
    assert samples['jobs_total{kind="say \\"hi\\"\\n"}'] == 1
    assert samples['jobs_total{kind="b"}'] == 2
    assert samples['job_seconds_bucket{le="0.1"}'] == 1
    assert samples['job_seconds_bucket{le="1"}'] == 2
    assert samples['job_seconds_bucket{le="+Inf"}'] == 3
    assert samples["job_seconds_count"] == 3 and samples["job_seconds_sum"] == 5.55


def test_server_metrics_after_some_traffic(make_app) -> None:
    app = make_app(auth_token="t")

    async def main() -> dict[str, float]:
        for sender in ("a", "b", "c"):
            for text in ("/greet", "/ask_choice"):
                response = await request(app, "post", "/webhooks/rest/webhook",
                                         json={"sender": sender, "message": text})
                assert response.status == 200
        await request(app, "get", "/conversations/a/tracker")  # refused: no token
        await request(app, "get", "/conversations/a/tracker?token=t")
        await request(app, "get", "/no/such/route")
        response = await request(app, "get", "/metrics?token=t")
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        return parse_metrics(response.text)

    samples = asyncio.run(main())
    webhook = 'route="/webhooks/rest/webhook"'
    assert samples[f'dfl_http_requests_total{{{webhook},method="POST",status="200"}}'] == 6
    tracker = 'route="/conversations/<conversation_id:str>/tracker"'
    assert samples[f'dfl_http_requests_total{{{tracker},method="GET",status="401"}}'] == 1
    assert samples[f'dfl_http_requests_total{{{tracker},method="GET",status="200"}}'] == 1
    assert samples['dfl_http_requests_total{route="unmatched",method="GET",status="404"}'] == 1
    assert samples[f'dfl_http_request_duration_seconds_count{{{webhook}}}'] == 6
    assert samples[f'dfl_http_request_duration_seconds_bucket{{{webhook},le="+Inf"}}'] == 6
    assert samples["dfl_nlu_batch_size_count"] >= 1 and samples["dfl_nlu_batch_size_sum"] == 6
    assert samples["dfl_nlu_duration_seconds_count"] == samples["dfl_nlu_batch_size_count"]
    assert samples["dfl_policy_duration_seconds_count"] >= 12  # utterance + listen per turn
    assert samples['dfl_action_duration_seconds_count{action="utter_choice"}'] == 3
    assert samples['dfl_message_duration_seconds_count{channel="rest"}'] == 6
    assert samples["dfl_active_conversations"] == 3
    assert "dfl_model_load_seconds" in samples


def test_active_conversations_forget_the_silent_ones(monkeypatch) -> None:
    from types import SimpleNamespace

    from dialogflowlite.server import metrics

    # a clock the test moves: how long the machine takes between two lines does not count
    now = [1000.0]
    monkeypatch.setattr(metrics, "time", SimpleNamespace(monotonic=lambda: now[0]))
    active = metrics.ActiveConversations(window=60.0)
    active.touch("a")
    active.touch("b")
    now[0] += 59.0
    assert active.count() == 2
    now[0] += 2.0
    active.touch("c")
    assert active.count() == 1


def test_active_conversations_forget_the_silent_ones_without_being_scraped(
        monkeypatch) -> None:
    from types import SimpleNamespace

    from dialogflowlite.server import metrics

    now = [1000.0]
    monkeypatch.setattr(metrics, "time", SimpleNamespace(monotonic=lambda: now[0]))
    active = metrics.ActiveConversations(window=60.0)
    for sender in range(1000):
        active.touch(f"web-{sender}")
        now[0] += 1.0
    active.touch("web-1")  # an old conversation that speaks again is kept
    # only a scrape of /metrics forgot them: a server nobody scrapes kept every sender
    # id it ever saw (about 140 bytes each, a web chat's new id per visitor)
    assert len(active._last_seen) <= 62
    assert "web-1" in active._last_seen and "web-900" not in active._last_seen
    assert active.count() == 61
