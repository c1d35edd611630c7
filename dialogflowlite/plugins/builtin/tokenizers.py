"""Built-in plugin: tokenizers."""

from __future__ import annotations

from dialogflowlite import hookimpl


@hookimpl
def dfl_register_components() -> list[type]:
    from dialogflowlite.components.tokenizers.spacy_tokenizer import SpacyTokenizer
    from dialogflowlite.components.tokenizers.whitespace import WhitespaceTokenizer

    return [WhitespaceTokenizer, SpacyTokenizer]
