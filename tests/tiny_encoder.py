"""A tiny BERT (hidden size 32, 2 layers) and WordPiece tokenizer, written to a folder.

Tests use the folder as ``model:``, so models train in seconds without any
download. Words outside the small vocabulary fall apart into single-letter
pieces, which exercises the sub-word alignment. The toy NLU data the NLU
components train on, and helpers to parse with them, are here too.
"""

from __future__ import annotations

import string
from pathlib import Path

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [
    *("hello", "hi", "hey", "good", "morning", "bye", "goodbye", "see", "you", "later"),
    *("thanks", "thank", "book", "a", "flight", "to", "from", "in", "on", "for", "me"),
    *("please", "i", "want", "need", "fly", "ticket", "tickets", "what", "is", "the"),
    *("weather", "like", "will", "it", "rain", "tomorrow", "today", "monday", "new"),
    *("york", "paris", "london", "rome", "tokyo", "city"),
]
CJK = list("我想去北京上海天气")


def build_tiny_encoder(folder: Path, seed: int = 0) -> Path:
    """Write a tiny BERT with random weights and its fast tokenizer to ``folder``."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    pieces = list(string.ascii_lowercase) + list(string.digits) + list(".,!?'-/")
    vocab_list = SPECIALS + sorted(set(WORDS)) + pieces + [f"##{p}" for p in pieces] + CJK
    vocab = {piece: i for i, piece in enumerate(dict.fromkeys(vocab_list))}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(folder)
    return folder


TOY_NLU = [
    ("greet", "hello"),
    ("greet", "hi"),
    ("greet", "hey"),
    ("greet", "good morning"),
    ("greet", "hello there"),
    ("goodbye", "bye"),
    ("goodbye", "goodbye"),
    ("goodbye", "see you later"),
    ("goodbye", "bye bye"),
    ("goodbye", "see you"),
    ("book_flight", "book a flight to [paris](city)"),
    ("book_flight", "i want to fly to [new york](city) [tomorrow](date)"),
    ("book_flight", "book a flight from [london](city) to [rome](city)"),
    ("book_flight", "i need a ticket to [tokyo](city) on [monday](date)"),
    ("book_flight", "fly me to [berlin](city) please"),
    ("book_flight", "book tickets to [madrid](city) [today](date)"),
    ("weather", "what is the weather like in [paris](city)"),
    ("weather", "will it rain in [london](city) [tomorrow](date)"),
    ("weather", "weather in [new york](city) [today](date)"),
    ("weather", "what is the weather in [hamburg](city)"),
    ("weather", "will it rain [monday](date)"),
]


def toy_training_data(rows: list[tuple[str, str]] | None = None):
    """The toy examples as TrainingData, with simple word tokens on every message."""
    from dialogflowlite.components.tokenizers.alignment import simple_tokens
    from dialogflowlite.shared.message import Message
    from dialogflowlite.shared.training_data import TrainingData, parse_annotated_text

    examples = []
    for intent, annotated in rows or TOY_NLU:
        text, entities = parse_annotated_text(annotated)
        examples.append(
            Message(text=text, intent=intent, entities=entities, tokens=simple_tokens(text))
        )
    return TrainingData(examples=examples)


def parse(component, texts: list[str]) -> list:
    """``texts`` as messages with simple word tokens, processed by ``component``."""
    from dialogflowlite.components.tokenizers.alignment import simple_tokens
    from dialogflowlite.shared.message import Message

    messages = [Message(text=t, tokens=simple_tokens(t)) for t in texts]
    component.process(messages)
    return messages


def assert_cities_past_one_pass_are_tagged(component, pleases: int) -> None:
    """A flight booking with ``pleases`` times "please" between its first city and its
    last two, long enough to need more than one pass: ``component`` (trained on the toy
    data) still finds the booking and tags all three cities where they stand."""
    text = "book a flight to paris " + "please " * pleases + "from london to rome"
    [message] = parse(component, [text])
    assert message.intent == "book_flight"
    found = {(e.entity, e.start, e.end) for e in message.entities}
    for city in ("paris", "london", "rome"):
        start = text.index(city)
        assert ("city", start, start + len(city)) in found
    assert all(e.value == text[e.start : e.end] for e in message.entities)


def with_entity_regex_features(data, names: list[str]) -> list:
    """``data``'s examples again, with the regex features a ``RegexFeaturizer`` of the
    patterns ``names`` would add: the first pattern matches every entity's tokens (and
    the sentence of an example with entities), the others match nothing."""
    from dialogflowlite.shared.message import Message

    unmatched = [0.0] * (len(names) - 1)
    return [
        Message(
            text=m.text,
            intent=m.intent,
            entities=m.entities,
            tokens=m.tokens,
            features={
                "regex": {
                    "names": list(names),
                    "token": [
                        [float(any(e.start <= t.start < e.end for e in m.entities)), *unmatched]
                        for t in m.tokens
                    ],
                    "sentence": [float(bool(m.entities)), *unmatched],
                }
            },
        )
        for m in data.examples
    ]
