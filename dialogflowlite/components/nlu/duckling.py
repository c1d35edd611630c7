"""``DucklingEntityExtractor``: dates, numbers, amounts from a Duckling server.

Duckling (https://github.com/facebook/duckling) runs as its own HTTP service;
this component posts each message to ``{url}/parse`` and turns the answer into
entities (type = Duckling's dimension, value = its normalised value). When the
server does not answer within ``timeout`` seconds, a warning is logged and
messages get no Duckling entities; the server is asked again after
``retry_after`` seconds, so an outage never slows every message down.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, ClassVar

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluComponent, NluContext
from dialogflowlite.errors import Position
from dialogflowlite.shared.message import Entity, Message
from dialogflowlite.shared.training_data import TrainingData

logger = logging.getLogger(__name__)

SETTINGS_FILE = "duckling.json"
#: the order of the keys of Rasa's Duckling entities, which clients printing the JSON show
DUCKLING_KEY_ORDER = (
    "start", "end", "text", "value", "confidence", "additional_info", "entity", "extractor",
)


def duckling_value(match: dict[str, Any]) -> Any:
    """The value of one Duckling match (an interval becomes ``{"from": .., "to": ..}``)."""
    value = match.get("value") or {}
    if value.get("type") == "interval":
        return {
            "to": (value.get("to") or {}).get("value"),
            "from": (value.get("from") or {}).get("value"),
        }
    return value.get("value")


class DucklingEntityExtractor(NluComponent):
    """Extracts entities (time, number, amount-of-money, ...) by asking a Duckling server.

    ``dimensions`` limits the entity types (all when empty); ``locale``
    defaults to the project's language written as Rasa sends it (``en`` ->
    ``en_EN``, which Duckling reads as English); ``timezone`` is passed on
    when set. A message's
    ``metadata["reference_time"]`` (milliseconds since the epoch) anchors
    relative times; otherwise the current time does.
    """

    name = "DucklingEntityExtractor"
    setting_kinds: ClassVar[dict[str, type]] = {"dimensions": list, "locale": str,
                                                "timezone": str}
    kind = "entity_extractor"
    provides = ("entities",)
    defaults: ClassVar[dict[str, Any]] = {
        "url": "http://localhost:8000",
        "dimensions": None,
        "locale": None,
        "timezone": None,
        "timeout": 3.0,
        "retry_after": 60.0,
    }

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.language = "en"
        self._down_until = 0.0

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """An http(s) ``url``, a ``timeout`` above 0 and a ``retry_after`` of 0 or more."""
        super().check_config(config, position=position)
        url = config["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            cls.report_bad_setting(
                f"{cls.name}: url must be an http(s) URL, not {url!r}",
                position=position,
                hint="for example `url: http://localhost:8000`",
            )
        cls.check_number(config, "timeout", above=0, position=position)
        cls.check_number(config, "retry_after", at_least=0, position=position)

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        self.language = context.language or "en"

    def _locale(self) -> str:
        if self.config["locale"]:
            return str(self.config["locale"])
        return (
            f"{self.language}_{self.language.upper()}"
            if "_" not in self.language
            else (self.language)
        )

    def _request(self, text: str, reference_time: int | None) -> list[dict[str, Any]]:
        fields = {
            "text": text,
            "locale": self._locale(),
            "reftime": str(reference_time or int(time.time() * 1000)),
        }
        if self.config["timezone"]:
            fields["tz"] = str(self.config["timezone"])
        request = urllib.request.Request(
            self.config["url"].rstrip("/") + "/parse",
            data=urllib.parse.urlencode(fields).encode("utf-8"),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
        )
        with urllib.request.urlopen(request, timeout=float(self.config["timeout"])) as response:
            answer = json.loads(response.read().decode("utf-8"))
        return answer if isinstance(answer, list) else []

    def extract(self, text: str, reference_time: int | None = None) -> list[Entity]:
        """The Duckling entities of ``text`` (none while the server is unreachable)."""
        if time.monotonic() < self._down_until:
            return []
        try:
            matches = self._request(text, reference_time)
        except (urllib.error.URLError, OSError, TimeoutError, ValueError) as e:
            self._down_until = time.monotonic() + float(self.config["retry_after"])
            logger.warning(
                "%s: the Duckling server at %s did not answer (%s); messages get no Duckling "
                "entities for the next %ss",
                self.name,
                self.config["url"],
                getattr(e, "reason", e),
                self.config["retry_after"],
            )
            return []
        wanted = set(self.config["dimensions"] or [])
        entities = []
        for match in matches:
            if not isinstance(match, dict) or (wanted and match.get("dim") not in wanted):
                continue
            start, end = int(match.get("start", 0)), int(match.get("end", 0))
            # Rasa's shape: Duckling's own answer under additional_info (its grain, the
            # ends of an interval) and its confidence as `confidence`, not the taggers'
            # `confidence_entity`
            entities.append(
                Entity(
                    str(match.get("dim")),
                    start,
                    end,
                    duckling_value(match),
                    extractor=self.name,
                    extra={
                        "text": match.get("body", match.get("text")),
                        "confidence": 1.0,
                        "additional_info": match.get("value"),
                    },
                    key_order=DUCKLING_KEY_ORDER,
                )
            )
        return entities

    def process(self, messages: list[Message]) -> None:
        for message in messages:
            reference = message.metadata.get("reference_time")
            message.entities.extend(
                self.extract(
                    message.text, int(reference) if isinstance(reference, (int, float)) else None
                )
            )

    def persist(self, storage: ComponentStorage) -> None:
        storage.write_json(SETTINGS_FILE, {"language": self.language})

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage) -> DucklingEntityExtractor:
        component = cls(config)
        if storage.exists(SETTINGS_FILE):
            component.language = storage.read_json(SETTINGS_FILE).get("language") or "en"
        return component
