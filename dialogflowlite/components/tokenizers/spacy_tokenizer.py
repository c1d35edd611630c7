"""``SpacyTokenizer``: spaCy's tokenizer (and lemmas) with exact character offsets."""

from __future__ import annotations

from typing import Any, ClassVar

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.tokenizers.base import TOKENIZER_DEFAULTS, Tokenizer
from dialogflowlite.components.tokenizers.spacy_loader import (
    load_spacy,
    missing_pipeline_error,
    spacy_pipeline_installed,
)
from dialogflowlite.components.tokenizers.unicode_text import SPACE, char_class
from dialogflowlite.errors import ComponentConfigError
from dialogflowlite.shared.message import Token
from dialogflowlite.shared.training_data import TrainingData

#: pipeline components a tokenizer never needs (lemmas come from tagger/lemmatizer)
_NOT_NEEDED = (
    "parser",
    "ner",
    "entity_ruler",
    "textcat",
    "textcat_multilabel",
    "senter",
    "entity_linker",
    "spancat",
)


class SpacyTokenizer(Tokenizer):
    """Tokenizes with spaCy: an installed pipeline (``model:``) or ``spacy.blank(language)``.

    With a named pipeline tokens carry spaCy's lemmas; the blank tokenizer
    only splits. ``language`` defaults to the project's ``language``. White
    space tokens are dropped, and so are tokens of invisible characters only
    (direction marks, zero-width spaces), which are also trimmed from token
    edges; offsets are spaCy's character offsets.
    """

    name = "SpacyTokenizer"
    setting_kinds: ClassVar[dict[str, type]] = {"model": str, "language": str}
    #: 2: tokens of invisible characters only are dropped, and trimmed from token edges
    revision = 2
    defaults: ClassVar[dict[str, Any]] = {
        **TOKENIZER_DEFAULTS,
        # an installed spaCy pipeline (package name or folder); None: spacy.blank(language)
        "model": None,
        # the language of spacy.blank; None: the project's language
        "language": None,
    }
    compatible_keys = ("token_pattern", "prefix_separator_symbol", "case_sensitive")

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        model = self.config["model"]
        if model and not spacy_pipeline_installed(str(model)):
            raise missing_pipeline_error(str(model), self.name, self.position)
        self.language: str = self.config["language"] or "en"

    @property
    def nlp(self) -> Any:
        return load_spacy(self.config["model"] or None, self.language)

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        if not self.config["language"]:
            self.language = context.language or "en"
        try:
            self.nlp  # noqa: B018 - load now, so a missing language fails at training time
        except ComponentConfigError as e:
            if e.position is not None or self.position is None:
                raise
            # at the component's line in config.yml, as its other setting errors are
            raise ComponentConfigError(e.message, hint=e.hint, position=self.position) from e

    def persist(self, storage: ComponentStorage) -> None:
        storage.write_json("tokenizer.json", {"language": self.language})

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage) -> SpacyTokenizer:
        tokenizer = cls(config)
        if storage.exists("tokenizer.json"):
            tokenizer.language = storage.read_json("tokenizer.json")["language"]
        return tokenizer

    def tokenize(self, text: str) -> list[Token]:
        return self.tokenize_batch([text])[0]

    def tokenize_batch(self, texts: list[str]) -> list[list[Token]]:
        nlp = self.nlp
        disable = [name for name in nlp.pipe_names if name in _NOT_NEEDED]
        result: list[list[Token]] = []
        for doc in nlp.pipe(texts, disable=disable):
            tokens = []
            for t in doc:
                span = _visible_span(t.text)
                if t.is_space or span is None:
                    continue
                start, end = t.idx + span[0], t.idx + span[1]
                tokens.append(Token(doc.text[start:end], start, end, lemma=t.lemma_ or None))
            result.append(tokens)
        return result


def _visible_span(text: str) -> tuple[int, int] | None:
    """Where ``text`` starts and ends without the white space and invisible marks
    (zero-width spaces, marks of writing direction) at its edges, which spaCy
    leaves on its tokens; None when nothing else is left."""
    start, end = 0, len(text)
    while start < end and char_class(text[start]) == SPACE:
        start += 1
    while end > start and char_class(text[end - 1]) == SPACE:
        end -= 1
    return (start, end) if start < end else None
