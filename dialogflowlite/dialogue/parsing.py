"""How the processor gets parse results: the trained NLU pipeline, or intent syntax alone.

A parser is anything with ``async parse(texts) -> list[Message]``. The agent
wraps its NLU pipeline in :class:`PipelineParser`; a server may swap in one
that batches concurrent requests. A model trained without NLU still
understands ``/intent{"entity": "value"}`` messages through
:class:`IntentSyntaxParser`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from dialogflowlite.shared.message import Message

if TYPE_CHECKING:
    from dialogflowlite.components.nlu.intent_shortcut import ShortcutNames


class MessageParser(Protocol):
    """Parses texts into messages (intent, entities, ...), several at once."""

    async def parse(self, texts: list[str]) -> list[Message]:
        """One message per text, in order."""


class IntentSyntaxParser:
    """Understands only ``/intent{...}`` messages (models trained without NLU).

    ``names`` (the domain's, :meth:`ShortcutNames.from_domain`) limits the intents
    and entities such a message may name, as Rasa does.
    """

    def __init__(self, names: ShortcutNames | None = None) -> None:
        self.names = names

    async def parse(self, texts: list[str]) -> list[Message]:
        from dialogflowlite.components.nlu.intent_shortcut import parse_intent_shortcut

        messages = []
        for text in texts:
            parsed = parse_intent_shortcut(text, self.names)
            # as the pipeline does, the text is read without the white space around it
            messages.append(parsed if parsed is not None else Message(text=text.strip()))
        return messages


class PipelineParser:
    """The trained NLU pipeline (its ``parse_batch`` runs one batched forward pass);
    ``names`` as for :class:`IntentSyntaxParser`."""

    def __init__(self, pipeline: Any, names: ShortcutNames | None = None) -> None:
        self.pipeline = pipeline
        self.names = names

    async def parse(self, texts: list[str]) -> list[Message]:
        if not texts:
            return []
        return list(self.pipeline.parse_batch(list(texts), names=self.names))
