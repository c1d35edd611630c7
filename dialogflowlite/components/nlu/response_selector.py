"""ResponseSelector: picks the response key of a retrieval intent (``faq/ask_price``).

Trained on the examples of retrieval intents (intents written
``<intent>/<key>``). With ``retrieval_intent`` set it learns that intent only
and reports under its name; otherwise it learns every retrieval intent and
reports under ``default``, as Rasa does. The sentence vector comes from a
pretrained encoder when ``model:`` is given (frozen by default: its vectors
are computed once and only a small head is trained; ``fine_tune: true``
trains the encoder too), or from a small Transformer over word and character
n-gram features trained from scratch otherwise.

Each parsed message gets Rasa's ``response_selector`` entry::

    {"all_retrieval_intents": ["faq"],
     "default": {"response": {"responses": [{"text": ...}], "confidence": 0.93,
                              "intent_response_key": "faq/ask_price",
                              "utter_action": "utter_faq/ask_price",
                              "template_name": "utter_faq/ask_price"},
                 "ranking": [{"confidence": 0.93, "intent_response_key": "faq/ask_price"},
                             ...]}}
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from dialogflowlite.components.base import NluComponent, NluContext
from dialogflowlite.components.nlu.pretrained import (
    clear_run_time_settings,
    cut_max_length,
    encode_pieces,
    load_pretrained,
    load_stored_encoder,
    load_stored_weights,
    max_length_problem,
    pad_pieces,
    plain_state_dict,
    resolve_model_source,
    save_encoder_config,
)
from dialogflowlite.components.nlu.sequence_labels import example_tokens, split_held_out
from dialogflowlite.components.nlu.word_features import (
    WordNgramVocabulary,
    drop_words,
    pad_word_batch,
)
from dialogflowlite.errors import Position, TrainingError
from dialogflowlite.io.formats import did_you_mean
from dialogflowlite.models.quantization import quantize_linear_layers
from dialogflowlite.shared.message import RETRIEVAL_SEPARATOR, Message
from dialogflowlite.shared.training_data import TrainingData

if TYPE_CHECKING:
    from dialogflowlite.artifact import ComponentStorage
    from dialogflowlite.models.response_selector import ResponseSelectorModel

logger = logging.getLogger(__name__)

DEFAULT_KEY = "default"
WEIGHTS = "model.safetensors"
META = "selector.json"
VOCABULARY = "vocabulary.json"
ENCODER_DIR = "encoder"
TOKENIZER_DIR = "tokenizer"


def empty_selection() -> dict[str, Any]:
    """What a message carries when no retrieval intent was trained (Rasa's shape)."""
    return {
        "all_retrieval_intents": [],
        DEFAULT_KEY: {
            "response": {
                "responses": None,
                "confidence": 0.0,
                "intent_response_key": None,
                "utter_action": "utter_None",
                "template_name": "utter_None",
            },
            "ranking": [],
        },
    }


def auto_epochs(num_examples: int) -> int:
    """Epochs when the config says ``auto``: about 20k example passes, 10 to 100 epochs."""
    return max(10, min(100, math.ceil(20_000 / max(1, num_examples))))


@dataclass
class _Item:
    """One example: model inputs (or a precomputed sentence vector) and its label."""

    label: int
    input_ids: list[int] | None = None
    word_ids: list[int] | None = None
    ngram_ids: list[list[int]] | None = None
    vector: Any = None


class ResponseSelector(NluComponent):
    """Selects the response of a retrieval intent (``utter_faq/ask_price``) for a message."""

    name = "ResponseSelector"
    kind = "response_selector"
    requires = ("tokens",)
    provides = ("response_selector",)
    setting_kinds: ClassVar[dict[str, type]] = {"random_seed": int, "retrieval_intent": str,
                                                "model": str}
    defaults: dict[str, Any] = {
        # train for this retrieval intent only, or (null) for all of them under "default"
        "retrieval_intent": None,
        # pretrained encoder (hub name, folder, alias), or null to train from scratch
        "model": None,
        # with `model`: train the encoder too (slower; frozen vectors suit small data)
        "fine_tune": False,
        # read at once (word pieces with `model`, at most its positions; words without):
        # the response is picked from a message's first max_length of them
        "max_length": 64,
        # the from-scratch encoder
        "hidden_size": 128,
        "num_layers": 1,
        "num_heads": 4,
        "ff_size": 256,
        "word_dropout": 0.1,
        "lowercase": True,
        "ngram_min": 1,
        "ngram_max": 4,
        "max_ngrams": 20_000,
        # the scoring head
        "head_size": 256,
        "dropout": 0.1,
        # training
        "epochs": "auto",
        "batch_size": 32,
        # null: 1e-3 for a head or a scratch encoder, 5e-5 when fine-tuning
        "learning_rate": None,
        "weight_decay": 0.01,
        "warmup_ratio": 0.05,
        "validation_split": 0.1,
        "min_held_out": 100,
        # epochs in a row without a better held-out score before training stops
        "patience": 5,
        "max_minutes": None,
        "random_seed": None,
        "device": None,
        # responses listed in the selector's ranking (0: all of them, as in Rasa)
        "ranking_length": 10,
        # select only for messages whose predicted intent is one of the retrieval
        # intents learnt (others get an empty selection and cost no encoder pass);
        # false selects for every message, as Rasa does
        "skip_other_intents": False,
        "inference_batch_size": 64,
        "quantize": False,
        # with `model`: a leaner forward pass for BERT-style encoders when loaded
        # for parsing (the same vectors), and no import of transformers
        "fast_inference": True,
    }

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.model: ResponseSelectorModel | None = None
        self.keys: list[str] = []
        self.retrieval_intents: list[str] = []
        #: every retrieval intent of the training data, those of other selectors too: what
        #: the output's ``all_retrieval_intents`` lists, as Rasa's does
        self.all_retrieval_intents: list[str] = []
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.tokenizer: Any = None
        self.vocabulary: WordNgramVocabulary | None = None
        self.fit_result: Any = None
        self._inference_only = False
        self._rng = random.Random(0)

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """Sizes, rates and fractions in their ranges; ``epochs`` also ``auto``."""
        super().check_config(config, position=position)
        c = config
        cls.check_training_settings(c, position=position)
        cls.check_device(c, position=position)
        cls.check_numbers(c, ("max_length", "num_layers", "ff_size", "max_ngrams", "head_size",
                              "inference_batch_size"),
                          at_least=1, whole=True, position=position)
        sizes_fine = cls.check_numbers(c, ("hidden_size", "num_heads"), at_least=1, whole=True,
                                       position=position)
        ngrams_fine = cls.check_numbers(c, ("ngram_min", "ngram_max"), at_least=1, whole=True,
                                        position=position)
        # 0 keeps every response in the ranking, as in Rasa
        cls.check_number(c, "ranking_length", at_least=0, whole=True, position=position)
        cls.check_number(c, "word_dropout", at_least=0, below=1, position=position)
        if ngrams_fine and c["ngram_min"] > c["ngram_max"]:
            cls.report_bad_setting(f"component {cls.name}: ngram_min {c['ngram_min']} is "
                                   f"above ngram_max {c['ngram_max']}",
                                   hint="make ngram_min at most ngram_max", position=position)
        if sizes_fine and c["model"] is None and c["hidden_size"] % c["num_heads"]:
            cls.report_bad_setting(f"component {cls.name}: hidden_size {c['hidden_size']} "
                                   f"is not a multiple of num_heads {c['num_heads']}",
                                   hint="make hidden_size a multiple of num_heads",
                                   position=position)

    @property
    def output_key(self) -> str:
        """Where the prediction goes in ``message.response_selector``."""
        return self.config["retrieval_intent"] or DEFAULT_KEY

    @property
    def pretrained(self) -> bool:
        return bool(self.config["model"])

    # ------------------------------------------------------------ training

    def _examples(self, training_data: TrainingData) -> list[Message]:
        wanted = self.config["retrieval_intent"]
        return [
            m
            for m in training_data.examples
            if m.intent
            and RETRIEVAL_SEPARATOR in m.intent
            and (wanted is None or m.base_intent == wanted)
        ]

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        """Learn the response keys of the retrieval intents' examples."""
        self.fit(training_data, context)

    def fit(
        self, training_data: TrainingData, context: NluContext, held_out: TrainingData | None = None
    ) -> None:
        """Train; ``held_out`` replaces the automatic held-out part."""
        from dialogflowlite.models.response_selector import (
            ResponseSelectorConfig,
            ResponseSelectorModel,
        )
        from dialogflowlite.training.loop import LoopConfig, device_of, fit, seed_everything

        c = self.config
        seed = c["random_seed"] if c["random_seed"] is not None else context.seed
        examples = self._examples(training_data)
        self.retrieval_intents = sorted({m.base_intent for m in examples if m.base_intent})
        self.all_retrieval_intents = sorted(set(training_data.retrieval_intents)
                                            | set(self.retrieval_intents))
        self.keys = sorted({m.intent for m in examples if m.intent})
        wanted = c["retrieval_intent"]
        if not examples and wanted is not None and training_data.retrieval_intents:
            # a misspelt retrieval_intent turns the answers off: say so, not only "nothing"
            known = training_data.retrieval_intents
            suggestion = did_you_mean(str(wanted), known)
            logger.warning(
                "%s: setting 'retrieval_intent' is %r, but the data's retrieval intents are "
                "%s; this selector learns nothing and answers no message%s%s", self.name,
                wanted, ", ".join(known), f" ({suggestion})" if suggestion else "",
                f" ({self.position})" if self.position is not None else "")
        if not examples:
            logger.info("%s: no retrieval intent examples; nothing to learn", self.name)
            self.model = None
            return
        self.responses = self._responses_from(context)
        if held_out is not None:
            train_examples, dev_examples = examples, self._examples(held_out)
        else:
            train_examples, dev_examples = split_held_out(
                examples, float(c["validation_split"]), int(c["min_held_out"]), seed
            )
        seed_everything(seed)
        self._rng = random.Random(seed)
        encoder, hidden = self._build_encoder(train_examples)
        model_config = ResponseSelectorConfig(
            hidden_size=hidden,
            num_responses=len(self.keys),
            head_size=int(c["head_size"]),
            dropout=float(c["dropout"]),
        )
        self.model = ResponseSelectorModel(encoder, model_config)
        frozen = self.pretrained and not c["fine_tune"]
        items = self._items(train_examples, with_vectors=frozen)
        dev_items = self._items(dev_examples, with_vectors=frozen) if dev_examples else []
        learning_rate = c["learning_rate"]
        if learning_rate is None:
            learning_rate = 5e-5 if (self.pretrained and c["fine_tune"]) else 1e-3
        loop_config = LoopConfig(
            epochs=auto_epochs(len(items)) if c["epochs"] == "auto" else int(c["epochs"]),
            batch_size=int(c["batch_size"]),
            learning_rate=float(learning_rate),
            weight_decay=float(c["weight_decay"]),
            warmup_ratio=float(c["warmup_ratio"]),
            patience=int(c["patience"]),
            max_minutes=c["max_minutes"],
            seed=seed,
            device=c["device"] or context.device,
            progress=context.progress,
            description=self.name,
            lr_multipliers={"head.": 20.0} if (self.pretrained and c["fine_tune"]) else {},
        )
        # a frozen encoder's vectors are computed once; only the head trains
        trained = self.model.head if frozen else self.model
        step = self._head_step if frozen else self._step
        evaluate = (lambda module: self._accuracy(module, dev_items, frozen)) if dev_items else None
        self.fit_result = fit(
            trained,
            items,
            self._collate,
            step,
            loop_config,
            evaluate=evaluate,
            lengths=[self._length(i) for i in items],
        )
        self.model.to(device_of(trained)).eval()
        if context.quantize:
            # weights are saved in full precision; the saved config asks for int8 at load
            self.config["quantize"] = True

    def _responses_from(self, context: NluContext) -> dict[str, list[dict[str, Any]]]:
        if context.domain is None:
            return {}
        found = {}
        for key in self.keys:
            response = context.domain.responses.get(f"utter_{key}")
            if response is not None:
                found[key] = [dict(v) for v in response.variations]
        return found

    def _build_encoder(self, examples: list[Message]) -> tuple[Any, int]:
        c = self.config
        if self.pretrained:
            source = resolve_model_source(str(c["model"]), self.name, self.position)
            encoder, self.tokenizer = load_pretrained(source, self.name)
            problem = max_length_problem(self.name, c, encoder)
            if problem is not None:
                self.report_bad_setting(problem[0], hint=problem[1], position=self.position)
            if not c["fine_tune"]:
                encoder.requires_grad_(False)
            return encoder, int(encoder.config.hidden_size)
        from dialogflowlite.models.scratch_transformer import ScratchEncoder

        self.vocabulary = WordNgramVocabulary(
            lowercase=bool(c["lowercase"]),
            ngram_min=int(c["ngram_min"]),
            ngram_max=int(c["ngram_max"]),
            max_ngrams=int(c["max_ngrams"]),
        ).build([t.text for t in example_tokens(m)] for m in examples)
        return ScratchEncoder(self._scratch_config()), int(c["hidden_size"])

    def _scratch_config(self) -> Any:
        from dialogflowlite.models.scratch_transformer import ScratchTransformerConfig

        c = self.config
        assert self.vocabulary is not None
        return ScratchTransformerConfig(
            word_vocab_size=len(self.vocabulary.words),
            ngram_vocab_size=len(self.vocabulary.ngrams),
            num_intents=1,
            num_tags=1,
            hidden_size=int(c["hidden_size"]),
            num_layers=int(c["num_layers"]),
            num_heads=int(c["num_heads"]),
            ff_size=int(c["ff_size"]),
            dropout=float(c["dropout"]),
            max_positions=int(c["max_length"]) + 1,
            use_crf=False,
        )

    # ------------------------------------------------------------ batches

    def _items(self, messages: list[Message], with_labels: bool = True,
               with_vectors: bool = False) -> list[_Item]:
        labels = {k: i for i, k in enumerate(self.keys)}
        targets = [labels.get(m.intent or "", -1) if with_labels else -1 for m in messages]
        if self.pretrained:
            pieces = encode_pieces(self.tokenizer, [m.text for m in messages],
                                   int(self.config["max_length"]))
            items = [_Item(label, input_ids=list(ids))
                     for label, (ids, _) in zip(targets, pieces, strict=True)]
        else:
            items = [self._scratch_item(m, label)
                     for m, label in zip(messages, targets, strict=True)]
        if with_vectors:
            vectors = self._vectors(items)
            for item, vector in zip(items, vectors, strict=True):
                item.vector = vector
        return items

    def _scratch_item(self, message: Message, label: int) -> _Item:
        assert self.vocabulary is not None
        words = [t.text for t in example_tokens(message)][: int(self.config["max_length"])]
        return _Item(
            label,
            word_ids=[self.vocabulary.word_id(w) for w in words],
            ngram_ids=[self.vocabulary.ngram_ids(w) for w in words],
        )

    @staticmethod
    def _length(item: _Item) -> int:
        return len(item.input_ids or item.word_ids or [])

    def _inputs(self, items: list[_Item]) -> dict[str, Any]:

        if self.pretrained:
            input_ids, mask = pad_pieces([i.input_ids or [] for i in items],
                                         self.tokenizer.pad_token_id or 0)
            return {"input_ids": input_ids, "attention_mask": mask if len(items) > 1 else None}
        word_ids, ngram_ids, word_mask = pad_word_batch(
            [i.word_ids or [] for i in items], [i.ngram_ids or [] for i in items]
        )
        return {"word_ids": word_ids, "ngram_ids": ngram_ids, "word_mask": word_mask}

    def _collate(self, items: list[_Item]) -> dict[str, Any]:
        import torch

        labels = torch.tensor([max(i.label, 0) for i in items], dtype=torch.long)
        if items[0].vector is not None:
            return {"vectors": torch.stack([i.vector for i in items]), "labels": labels}
        inputs = self._inputs(items)
        if "word_ids" in inputs:
            rate = float(self.config["word_dropout"])
            inputs["word_ids"] = drop_words(inputs["word_ids"], rate, self._rng)
        return {"inputs": inputs, "labels": labels}

    def _vectors(self, items: list[_Item]) -> list[Any]:
        import torch

        assert self.model is not None
        vectors: list[Any] = [None] * len(items)
        order = sorted(range(len(items)), key=lambda i: self._length(items[i]))
        size = int(self.config["inference_batch_size"])
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), size):
                chunk = order[start : start + size]
                inputs = self._inputs([items[i] for i in chunk])
                for i, vector in zip(chunk, self.model.sentence_vectors(**inputs), strict=True):
                    vectors[i] = vector.clone()
        return vectors

    def _step(self, model: Any, batch: dict[str, Any]) -> Any:
        return self._loss(model(**batch["inputs"]), batch["labels"])

    def _head_step(self, head: Any, batch: dict[str, Any]) -> Any:
        return self._loss(head(batch["vectors"]), batch["labels"])

    @staticmethod
    def _loss(logits: Any, labels: Any) -> Any:
        import torch.nn.functional as F

        from dialogflowlite.training.loop import StepOutput

        correct = int((logits.argmax(-1) == labels).sum())
        return StepOutput(F.cross_entropy(logits, labels), correct, len(labels))

    def _accuracy(self, module: Any, items: list[_Item], frozen: bool) -> float:
        from dialogflowlite.training.loop import device_of, move_to

        device = device_of(module)
        right = 0
        for start in range(0, len(items), int(self.config["inference_batch_size"])):
            chunk = items[start : start + int(self.config["inference_batch_size"])]
            batch = move_to(self._collate_eval(chunk), device)
            logits = module(batch["vectors"]) if frozen else module(**batch["inputs"])
            right += int((logits.argmax(-1).cpu() == batch["labels"].cpu()).sum())
        return right / max(1, len(items))

    def _collate_eval(self, items: list[_Item]) -> dict[str, Any]:
        import torch

        labels = torch.tensor([i.label for i in items], dtype=torch.long)
        if items[0].vector is not None:
            return {"vectors": torch.stack([i.vector for i in items]), "labels": labels}
        return {"inputs": self._inputs(items), "labels": labels}

    # ------------------------------------------------------------ inference

    def process(self, messages: list[Message]) -> None:
        """Add the selected response (and the ranking) to each message."""
        import torch

        from dialogflowlite.training.loop import device_of, move_to

        if not messages:
            return
        if self.model is None:
            for message in messages:
                message.response_selector = self._merged(message, empty_selection())
            return
        wanted = []
        for message in messages:
            if self._wanted(message):
                wanted.append(message)
            else:
                message.response_selector = self._merged(message, self._no_selection())
        messages = wanted
        size = int(self.config["inference_batch_size"])
        device = device_of(self.model)
        for start in range(0, len(messages), size):
            chunk = messages[start : start + size]
            items = self._items(chunk, with_labels=False)
            with torch.inference_mode():
                logits = self.model(**move_to(self._inputs(items), device))
                probs = logits.float().softmax(-1).cpu().tolist()
            for message, row in zip(chunk, probs, strict=True):
                message.response_selector = self._merged(message, self._selection(row))

    def _wanted(self, message: Message) -> bool:
        """Whether to select for ``message``: one without a word (empty, or only white
        space) never, as in Rasa; with ``skip_other_intents``, only one with no intent
        predicted yet or a retrieval one."""
        if not example_tokens(message):
            return False
        if not self.config["skip_other_intents"]:
            return True
        return message.intent is None or message.base_intent in self.retrieval_intents

    def _no_selection(self) -> dict[str, Any]:
        """The empty selection of a message that is not selected for."""
        selection = empty_selection()
        selection["all_retrieval_intents"] = list(self.all_retrieval_intents)
        selection[self.output_key] = selection.pop(DEFAULT_KEY)
        return selection

    def _selection(self, probs: list[float]) -> dict[str, Any]:
        ranked = sorted(zip(self.keys, probs, strict=True), key=lambda kp: -kp[1])
        ranked = ranked[: int(self.config["ranking_length"]) or None]
        key, confidence = ranked[0]
        return {
            "all_retrieval_intents": list(self.all_retrieval_intents),
            self.output_key: {
                "response": {
                    "responses": self.responses.get(key) or None,
                    "confidence": float(confidence),
                    "intent_response_key": key,
                    "utter_action": f"utter_{key}",
                    "template_name": f"utter_{key}",
                },
                "ranking": [{"confidence": float(p), "intent_response_key": k} for k, p in ranked],
            },
        }

    def _merged(self, message: Message, selection: dict[str, Any]) -> dict[str, Any]:
        """Keep what other response selectors put on the message."""
        merged = dict(message.response_selector or {})
        intents = set(merged.get("all_retrieval_intents") or [])
        intents |= set(selection.pop("all_retrieval_intents"))
        merged.update(selection)
        merged["all_retrieval_intents"] = sorted(intents)
        return merged

    # ------------------------------------------------------------ persistence

    def persist(self, storage: ComponentStorage) -> None:
        """Labels and responses as JSON; encoder files and weights when trained."""
        meta: dict[str, Any] = {
            "keys": self.keys,
            "retrieval_intents": self.retrieval_intents,
            "all_retrieval_intents": self.all_retrieval_intents,
            "responses": self.responses,
            "trained": self.model is not None,
        }
        if self.model is not None:
            if self._inference_only:
                raise TrainingError(
                    f"{self.name}: a selector loaded for parsing cannot be saved again",
                    hint="copy its model file instead, or retrain",
                )
            meta["model_config"] = asdict(self.model.config)
            storage.write_tensors(WEIGHTS, plain_state_dict(self.model))
            if not self.pretrained:
                meta["encoder_config"] = asdict(self._scratch_config())
            if self.pretrained:
                save_encoder_config(self.model.encoder, storage.path(ENCODER_DIR))
                clear_run_time_settings(self.tokenizer)
                self.tokenizer.save_pretrained(storage.path(TOKENIZER_DIR))
            else:
                assert self.vocabulary is not None
                storage.write_json(VOCABULARY, self.vocabulary.to_json())
        storage.write_json(META, meta)

    @classmethod
    def load(
        cls, config: dict[str, Any], storage: ComponentStorage, quantize: bool = False
    ) -> ResponseSelector:
        """Rebuild the trained selector from its files."""

        from dialogflowlite.models.fast_bert import FastBertEncoder, supports_fast_path
        from dialogflowlite.models.response_selector import (
            ResponseSelectorConfig,
            ResponseSelectorModel,
        )
        from dialogflowlite.models.scratch_transformer import ScratchEncoder
        from dialogflowlite.models.weight_sharing import share_identical_weights

        component = cls(config)
        meta = storage.read_json(META)
        component.keys = list(meta["keys"])
        component.retrieval_intents = list(meta["retrieval_intents"])
        component.all_retrieval_intents = list(meta.get("all_retrieval_intents")
                                               or component.retrieval_intents)
        component.responses = dict(meta.get("responses") or {})
        if not meta.get("trained"):
            return component
        fast = component.pretrained and bool(component.config["fast_inference"])
        if component.pretrained:
            encoder, component.tokenizer = load_stored_encoder(
                storage.path(ENCODER_DIR), storage.path(TOKENIZER_DIR), fast, cls.name
            )
            cut_max_length(cls.name, component.config, encoder)
        else:
            from dialogflowlite.models.scratch_transformer import ScratchTransformerConfig

            component.vocabulary = WordNgramVocabulary.from_json(storage.read_json(VOCABULARY))
            encoder = ScratchEncoder(ScratchTransformerConfig(**meta["encoder_config"]))
            # a loaded selector only predicts: one traced call per batch (see models/tracing)
            encoder.trace_inference()
        model = ResponseSelectorModel(encoder, ResponseSelectorConfig(**meta["model_config"]))
        load_stored_weights(model, storage, WEIGHTS, cls.name)
        model.eval()
        if fast and supports_fast_path(model.encoder):
            model.encoder = FastBertEncoder(model.encoder)
            component._inference_only = True
            # frozen weights equal to another loaded component's are held once
            share_identical_weights(model)
        component.model = model
        if quantize or component.config["quantize"]:
            component._quantize()
        return component

    def _quantize(self) -> None:
        assert self.model is not None
        self.model = quantize_linear_layers(self.model, inplace=True)
