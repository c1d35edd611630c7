"""``NeuralResponseGenerator``: a trainable encoder-decoder that writes the bot's replies.

Two conditioning modes (``mode: act2text | context2response | both``):

* act2text realises an action with its slot values as a sentence, so an
  ``utter_*`` action needs no template for every combination;
* context2response answers from the last ``history`` turns, the intent and
  the slots: chitchat, FAQ answers, and the generative fallback
  ``action_generate``.

The model is a small Transformer trained from scratch (the default), or a
pretrained sequence-to-sequence or causal language model fine-tuned from
``model:`` (a hub name or a local folder). Slot values are delexicalised
(see :mod:`.delex`), so copied values are exact; replies pass the guardrails
(:mod:`.guardrails`) before the responder sends them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dialogflowlite.components.base import Component
from dialogflowlite.components.generation.data import (
    ACT2TEXT,
    CONTEXT2RESPONSE,
    MODES,
    GenerationExample,
    act_example,
    act_needs,
    context_example,
)
from dialogflowlite.components.generation.decoding_config import DecodingConfig
from dialogflowlite.components.generation.delex import Delexicaliser, Prepared, relexicalise
from dialogflowlite.components.generation.guardrails import (
    Blocklist,
    act_check,
    judge,
    slot_check,
)
from dialogflowlite.errors import ComponentConfigError, Position, TrainingError
from dialogflowlite.models.threads import one_torch_thread
from dialogflowlite.training.finetune import FinetuneSource, check_same_shape, finetune_epochs

if TYPE_CHECKING:
    from dialogflowlite.artifact import ComponentStorage
    from dialogflowlite.components.generation.fit import FitResult
    from dialogflowlite.shared.domain import Domain
    from dialogflowlite.shared.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)

USE_FOR = ("missing", "always", "never")
MODE_CHOICES = (*MODES, "both")

#: learning rates used when ``learning_rate`` is not set
SCRATCH_LEARNING_RATE = 1e-3
PRETRAINED_LEARNING_RATE = 1e-4


@dataclass
class GeneratedReply:
    """A generated reply, its score, and whether the guardrails let it through."""

    text: str
    score: float
    accepted: bool
    reason: str = ""
    delexicalised: str = ""
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class GenerationContext:
    """What a generator may need while training, besides its pairs."""

    domain: Domain | None = None
    seed: int = 42
    progress: bool = False
    #: save the model asking for int8 weights at load (``train --quantize``)
    quantize: bool = False
    #: the same generator of the model being fine-tuned (``train --finetune``)
    finetune_from: FinetuneSource | None = None
    #: the share of the configured epochs (and time budget) when fine-tuning
    epoch_fraction: float = 1.0


class NeuralResponseGenerator(Component):
    """Writes replies with an encoder-decoder Transformer: act -> text and context -> reply.

    Trained from scratch by default, or fine-tuned from a pretrained model
    (``model:``). Generated replies are checked by guardrails (score
    threshold, blocklist, exact slot values) before they are sent.
    """

    name = "NeuralResponseGenerator"
    setting_kinds: ClassVar[dict[str, type]] = {"model": str, "source_encoder": str,
                                                "blocklist_file": str}
    kind = "generator"
    finetunable = True
    #: takes ``project_dir`` when built for training (``blocklist_file`` is found there)
    reads_project_files = True
    #: settings that act only when the trained model runs: changing one reuses the
    #: trained generator with the new value (the blocklist is kept in the model, so a
    #: change of it retrains)
    run_time_settings: ClassVar[tuple[str, ...]] = ("threshold", "use_for", "decoding")
    provides = ("bot_text",)
    defaults = {
        "mode": "both",  # act2text, context2response or both
        "use_for": "missing",  # act2text for utter actions: missing (no template), always, never
        "history": 3,  # turns of context for context2response
        "story_samples": 2,  # renderings of each story with different NLU examples
        "pair_files": True,  # also learn from data/**/*.jsonl pair files
        "model": None,  # pretrained model to fine-tune (hub name or folder); none: from scratch
        # from scratch: a pretrained BERT-style encoder (hub name, folder or alias) whose
        # fixed states the model reads its input through; none: it learns the input too
        "source_encoder": None,
        # from scratch: each reply token may also be pointed at in the input (a
        # pointer-generator), so words of slots never seen in training can be written
        "copy_attention": False,
        # slot value placeholders: index ([v1]), slot ([city]) or type ([name], [time])
        "placeholder_style": "index",
        "slot_names_as_words": True,  # account_balance enters the input as "account balance"
        "lexical_ratio": 0.5,  # slots whose values replies repeat less often stay as text
        "vocab_size": 4000,  # byte-level BPE vocabulary of the from-scratch model
        "hidden_size": 256,  # from-scratch Transformer width
        "encoder_layers": 2,  # from-scratch encoder layers
        "decoder_layers": 2,  # from-scratch decoder layers
        "heads": 4,  # attention heads
        "ff_size": 1024,  # feed-forward width
        "dropout": 0.1,  # dropout of the from-scratch model
        "max_source_length": 192,  # input tokens kept (the latest ones)
        "max_target_length": 128,  # reply tokens learnt
        "epochs": 40,  # passes over the pairs (at most)
        "batch_size": 32,  # pairs per step
        "learning_rate": None,  # AdamW peak rate; none: 1e-3 from scratch, 1e-4 pretrained
        "warmup_steps": 200,  # linear warm-up before the cosine decay
        "weight_decay": 0.01,  # AdamW weight decay
        "label_smoothing": 0.1,  # cross-entropy label smoothing
        "max_minutes": None,  # training time budget; the schedule decays over it
        "seed": 42,  # seed of batching and initialisation
        "decoding": {},  # strategy, beam_size, temperature, top_k, top_p, max_length, ...
        "threshold": -1.5,  # least length-normalised log-probability of a reply sent
        "blocklist": [],  # words or phrases a reply must not contain
        "blocklist_file": None,  # text file of blocked phrases, one per line
        "quantize": False,  # dynamic int8 weights when loaded (faster CPU decoding)
    }

    def __init__(self, config: dict[str, Any] | None = None, *,
                 project_dir: str | Path | None = None, **kwargs: Any) -> None:
        """``project_dir`` is where a relative ``blocklist_file`` is found (default: the
        current folder)."""
        super().__init__(config, **kwargs)
        self.decoding = DecodingConfig.from_dict(self.config["decoding"])
        self._quantized = False
        self._warned_length = False
        self.blocklist = self._read_blocklist(project_dir)
        self.backend: Any = None
        self.delexicaliser = Delexicaliser(style=self.config["placeholder_style"],
                                           min_ratio=float(self.config["lexical_ratio"]),
                                           slot_words=bool(self.config["slot_names_as_words"]))
        self.modes: list[str] = []
        #: action or act name -> the slots its input carries, in order
        self.act_slots: dict[str, list[str]] = {}
        #: action or act name -> the slots every pair of it carried: it is not realised
        #: without them
        self.act_needs: dict[str, list[str]] = {}
        self.fit_result: dict[str, Any] = {}

    def _read_blocklist(self, project_dir: str | Path | None) -> Blocklist:
        blocklist_file = self.config["blocklist_file"]
        if not blocklist_file:
            return Blocklist(self.config["blocklist"])
        path = Path(blocklist_file)
        if project_dir is not None and not path.is_absolute():
            # config.yml names it from the project, wherever `train --project` runs
            path = Path(project_dir) / path
        try:
            return Blocklist.from_file(path, self.config["blocklist"])
        except ComponentConfigError as e:
            # at the component's line of config.yml, saying where a relative path starts
            raise ComponentConfigError(
                f"{self.name}: {e.message}", position=self.position,
                hint=f"{e.hint}; a relative path starts at the project folder") from e

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """Known choices, settings that go together, and numbers in their ranges."""
        super().check_config(config, position=position)
        if config["mode"] not in MODE_CHOICES:
            cls.report_bad_setting(f"{cls.name}: mode '{config['mode']}' is not known",
                                   hint=f"use one of {', '.join(MODE_CHOICES)}",
                                   position=position)
        if config["use_for"] not in USE_FOR:
            cls.report_bad_setting(f"{cls.name}: use_for '{config['use_for']}' is not known",
                                   hint=f"use one of {', '.join(USE_FOR)}", position=position)
        if config["placeholder_style"] not in Delexicaliser.STYLES:
            cls.report_bad_setting(
                f"{cls.name}: placeholder_style '{config['placeholder_style']}' is not known",
                hint="use index, slot or type", position=position)
        if config["copy_attention"] and (config["model"] or config["source_encoder"]):
            cls.report_bad_setting(
                f"{cls.name}: copy_attention points at the input's own tokens, which only "
                "the from-scratch model without a source_encoder reads",
                hint="drop copy_attention, or model: and source_encoder:",
                position=position)
        if config["model"] and config["source_encoder"]:
            cls.report_bad_setting(
                f"{cls.name}: source_encoder is for the from-scratch model, and model: "
                f"{config['model']!r} fine-tunes a pretrained one",
                hint="set one of model and source_encoder", position=position)
        if not isinstance(config["blocklist"], list):
            cls.report_bad_setting(f"{cls.name}: blocklist must be a list of phrases",
                                   position=position)
        elif not all(isinstance(phrase, str) for phrase in config["blocklist"]):
            odd = next(p for p in config["blocklist"] if not isinstance(p, str))
            cls.report_bad_setting(
                f"{cls.name}: blocklist entries must be text, not {odd!r}",
                hint="quote numbers and leave no entry empty (`blocklist: [damn, \"666\"]`)",
                position=position)
        cls._check_numbers(config, position)
        try:
            DecodingConfig.from_dict(config["decoding"])
        except ComponentConfigError as e:
            cls.report_bad_setting(f"{cls.name}: {e.message}", hint=e.hint, position=position)

    @classmethod
    def _check_numbers(cls, config: dict[str, Any], position: Position | None) -> None:
        cls.check_training_settings(config, position=position)
        cls.check_numbers(config, ("vocab_size", "encoder_layers", "decoder_layers", "ff_size",
                                   "max_source_length", "max_target_length"),
                          at_least=1, whole=True, position=position)
        sizes_fine = cls.check_numbers(config, ("hidden_size", "heads"), at_least=1, whole=True,
                                       position=position)
        # 0 turns of history: the reply is written from the latest message alone
        cls.check_numbers(config, ("history", "story_samples"), at_least=0, whole=True,
                          position=position)
        cls.check_number(config, "lexical_ratio", at_least=0, at_most=1, position=position)
        cls._check_threshold(config, position)
        cls.check_number(config, "label_smoothing", at_least=0, below=1, position=position)
        if sizes_fine and config["model"] is None and config["hidden_size"] % config["heads"]:
            cls.report_bad_setting(
                f"{cls.name}: hidden_size {config['hidden_size']} is not a multiple of heads "
                f"{config['heads']}", hint="make hidden_size a multiple of heads",
                position=position)

    @classmethod
    def _check_threshold(cls, config: dict[str, Any], position: Position | None) -> None:
        """A score is a log-probability, at most 0: a threshold above 0 (a probability, as
        Rasa's fallback thresholds are written) would reject every reply, and one that is
        no number (NaN, text) would let every reply through or fail at the first."""
        threshold = config["threshold"]
        if not (isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
                and threshold > 0):
            cls.check_number(config, "threshold", at_most=0, position=position)
        else:
            cls.report_bad_setting(
                f"{cls.name}: threshold {threshold} is above 0, and no reply scores above 0 "
                "(a score is the mean log-probability of its tokens): every reply would be "
                "rejected",
                hint="write a log-probability: the default is -1.5; for a least probability "
                     "p per token write ln(p), such as -0.36 for 0.7",
                position=position)

    @property
    def configured_modes(self) -> tuple[str, ...]:
        mode = self.config["mode"]
        return MODES if mode == "both" else (mode,)

    # ------------------------------------------------------------ training

    def _new_backend(self, prepared: list[Prepared]) -> Any:
        if self.config["model"]:
            from dialogflowlite.components.generation.pretrained import PretrainedBackend

            return PretrainedBackend.build(str(self.config["model"]),
                                           self.delexicaliser.placeholders(), self.config)
        from dialogflowlite.components.generation.scratch import ScratchBackend

        return ScratchBackend.build(prepared, self.delexicaliser.placeholders(), self.config)

    def _learning_rate(self) -> float:
        if self.config["learning_rate"] is not None:
            return float(self.config["learning_rate"])
        return PRETRAINED_LEARNING_RATE if self.config["model"] else SCRATCH_LEARNING_RATE

    def train(self, examples: list[GenerationExample],
              context: GenerationContext | None = None,
              progress: Any = None) -> FitResult:
        """Learn from ``examples`` (those of the configured modes are used)."""
        from dialogflowlite.components.generation.fit import FitConfig, fit

        context = context or GenerationContext(seed=int(self.config["seed"]))
        examples = [e for e in examples if e.mode in self.configured_modes and e.target]
        if not examples:
            raise TrainingError(
                f"{self.name} has no training pairs for mode {self.config['mode']}",
                hint="add responses and stories, or pairs in data/*.jsonl "
                     "(see docs/responses.md)", position=self.position)
        self.modes = sorted({e.mode for e in examples})
        self.act_slots = {}
        for example in examples:
            if example.mode == ACT2TEXT and example.act_name:
                slots = self.act_slots.setdefault(example.act_name, [])
                for item in example.acts:
                    if item.slot and item.slot not in slots:
                        slots.append(item.slot)
        self.act_needs = act_needs(examples)
        source = context.finetune_from
        previous = self._finetune_start(source) if source is not None else None
        self.delexicaliser.fit(examples)
        if previous is not None:
            self._check_placeholders(previous, source)
        prepared = [self.delexicaliser.prepare(e) for e in examples]
        import torch

        # the fresh model's initial weights come from the seed too: same pairs and
        # seed, same model, whatever drew random numbers before
        torch.manual_seed(int(context.seed))
        if previous is not None:
            self.backend = previous.backend
        else:
            self.backend = self._new_backend(prepared)
        encoded = [self.backend.encode(p) for p in prepared]
        epochs, minutes = int(self.config["epochs"]), self.config["max_minutes"]
        if previous is not None:
            epochs = finetune_epochs(epochs, context.epoch_fraction)
            minutes = minutes * context.epoch_fraction if minutes else minutes
        fit_config = FitConfig(
            epochs=epochs, batch_size=int(self.config["batch_size"]),
            learning_rate=self._learning_rate(), warmup_steps=int(self.config["warmup_steps"]),
            weight_decay=float(self.config["weight_decay"]),
            label_smoothing=float(self.config["label_smoothing"]),
            max_minutes=minutes, seed=int(context.seed))
        smoothing = fit_config.label_smoothing
        result = fit(self.backend.module, encoded, [self.backend.length(e) for e in encoded],
                     lambda batch: self.backend.loss(batch, smoothing), fit_config,
                     progress=progress)
        self.backend.finish_training()
        self.fit_result = result.to_dict()
        logger.info("%s trained on %d pairs: %s", self.name, len(examples), self.fit_result)
        if context.quantize:
            # weights are saved in full precision; the saved config asks for int8 at load
            self.config["quantize"] = True
        return result

    #: settings that shape the network or what it reads and writes: a model is
    #: fine-tuned only with the values it was trained with
    SHAPE_SETTINGS = ("model", "vocab_size", "hidden_size", "encoder_layers",
                      "decoder_layers", "heads", "ff_size", "source_encoder", "copy_attention",
                      "placeholder_style", "slot_names_as_words", "max_source_length",
                      "max_target_length")

    def _finetune_start(self, source: FinetuneSource) -> NeuralResponseGenerator:
        """The trained generator of the model being fine-tuned, checked to fit these settings."""
        check_same_shape(self.name, source,
                         {key: source.config.get(key) for key in self.SHAPE_SETTINGS},
                         {key: self.config.get(key) for key in self.SHAPE_SETTINGS})
        if self.config.get("source_encoder"):
            # its inputs are states kept from the frozen encoder during training only
            raise TrainingError(f"{self.name}: a generator with source_encoder is not "
                                "fine-tuned", hint="train without --finetune")
        previous = type(self).load({**source.config, "quantize": False}, source.storage)
        # the trained modes and acts stay known; the new pairs add theirs
        self.modes = sorted(set(self.modes) | set(previous.modes))
        for act, slots in previous.act_slots.items():
            known = self.act_slots.setdefault(act, [])
            known += [slot for slot in slots if slot not in known]
        # a slot is needed when every pair of the act had it, the old pairs and the new
        for act, needed in previous.act_needs.items():
            now = self.act_needs.get(act)
            self.act_needs[act] = list(needed) if now is None else [s for s in now
                                                                   if s in needed]
        return previous

    def _check_placeholders(self, previous: NeuralResponseGenerator,
                            source: FinetuneSource) -> None:
        """The vocabulary holds the placeholders the model was trained with: no more."""
        have = previous.delexicaliser.max_values
        if self.delexicaliser.max_values > have:
            raise TrainingError(
                f"{self.name} cannot be fine-tuned from {source.model.name}: a training pair "
                f"now carries {self.delexicaliser.max_values} values, and the model has "
                f"placeholders for {have}", hint="train without --finetune")

    def quantize(self) -> None:
        """Dynamic int8 weights for the model's linear layers (CPU decoding).

        Each decoding step multiplies a few rows by every weight matrix, the
        output layer's above all; int8 weights are a quarter of the memory to
        read. A quantized generator generates and scores but cannot be saved.
        """
        backend = self._require_backend()
        if not self._quantized:
            backend.quantize()
            self._quantized = True

    # ------------------------------------------------------------ generating

    def _require_backend(self) -> Any:
        if self.backend is None:
            raise TrainingError(f"{self.name} is not trained",
                                hint="run `dialogflowlite train`")
        return self.backend

    def generate(self, example: GenerationExample,
                 decoding: DecodingConfig | None = None) -> GeneratedReply:
        """Generate the reply for ``example`` and judge it with the guardrails.

        Placeholders with no value in this input are never written, so the
        model cannot invent a value. Among the n best beam hypotheses the
        first that copies every slot value is taken, so a value is dropped
        only when no hypothesis keeps it.
        """
        from dialogflowlite.components.generation.decoding import decode

        backend = self._require_backend()
        decoding = self._within_model_length(decoding or self.decoding, backend)
        prepared = self.delexicaliser.prepare(GenerationExample(
            example.mode, None, acts=example.acts, context=example.context,
            intent=example.intent, slots=example.slots))
        valueless = backend.token_ids([p for p in self.delexicaliser.placeholders()
                                       if p not in prepared.values])
        with one_torch_thread():
            hypotheses = decode(backend.stepper(valueless),
                                backend.encode_source(prepared.source,
                                                      reply_length=decoding.max_length),
                                decoding, n_best=decoding.beam_size,
                                required=backend.token_ids(prepared.required))
        chosen, delexicalised = hypotheses[0], backend.decode_ids(hypotheses[0].tokens)
        for hypothesis in hypotheses:
            text = backend.decode_ids(hypothesis.tokens)
            if slot_check(text, prepared).accepted:
                chosen, delexicalised = hypothesis, text
                break
        final = relexicalise(delexicalised, prepared.values).strip()
        verdict = judge(delexicalised, final, chosen.score, prepared,
                        threshold=float(self.config["threshold"]), blocklist=self.blocklist,
                        finished=chosen.finished)
        return GeneratedReply(final, chosen.score, verdict.accepted, verdict.reason,
                              delexicalised, dict(prepared.values))

    def _within_model_length(self, decoding: DecodingConfig, backend: Any) -> DecodingConfig:
        """``decoding`` with ``max_length`` cut to what the model has positions for.

        A longer ``max_length`` would make a reply that runs on fail at the
        model's last position instead of stopping there.
        """
        longest = getattr(backend, "longest_reply", None)
        if longest is None or decoding.max_length <= longest:
            return decoding
        if not self._warned_length:
            self._warned_length = True
            hint = ("a pretrained model's positions are fixed; a causal model's reply takes "
                    "at most half of them" if self.config["model"]
                    else "raise max_target_length and retrain for longer ones")
            logger.warning("%s: decoding max_length %d is more than the %d tokens the model has "
                           "positions for; replies stop at %d tokens (%s)", self.name,
                           decoding.max_length, longest, longest, hint)
        return replace(decoding, max_length=longest)

    def token_nll(self, examples: list[GenerationExample],
                  batch_size: int = 64) -> tuple[float, int]:
        """Summed negative log-likelihood of the examples' (delexicalised) replies, and tokens."""
        backend = self._require_backend()
        encoded = [backend.encode(self.delexicaliser.prepare(e)) for e in examples if e.target]
        total, count = 0.0, 0
        for start in range(0, len(encoded), batch_size):
            nll, tokens = backend.token_nll(encoded[start:start + batch_size])
            total += nll
            count += tokens
        return total, count

    # ------------------------------------------------------------ for the responder

    def realises(self, action_name: str, has_template: bool) -> bool:
        """Whether to write the text of ``action_name`` (an act this generator learnt)."""
        use_for = self.config["use_for"]
        if ACT2TEXT not in self.modes or use_for == "never" or action_name not in self.act_slots:
            return False
        return use_for == "always" or not has_template

    def writes_free_replies(self) -> bool:
        return CONTEXT2RESPONSE in self.modes

    def generate_for_action(self, action_name: str,
                            tracker: DialogueStateTracker) -> GeneratedReply | None:
        """Realise ``action_name`` with the tracker's values of its slots.

        Unset slots are left out of the act; when one of them is a slot that
        every training pair of the act had, nothing is decoded and the reply
        is rejected (the model would leave a hole where the value goes).
        """
        if self.backend is None:
            return None
        example = act_example(action_name, tracker, self.act_slots.get(action_name, []))
        verdict = act_check(action_name, self.act_needs.get(action_name, []), example)
        if not verdict.accepted:
            return GeneratedReply("", float("-inf"), False, verdict.reason)
        return self.generate(example)

    def generate_reply(self, tracker: DialogueStateTracker) -> GeneratedReply | None:
        if self.backend is None or CONTEXT2RESPONSE not in self.modes:
            return None
        return self.generate(context_example(tracker, int(self.config["history"])))

    # ------------------------------------------------------------ persistence

    def persist(self, storage: ComponentStorage) -> None:
        backend = self._require_backend()
        if self._quantized:
            raise TrainingError(f"{self.name}: a quantized generator cannot be saved",
                                hint="save it before quantizing, or retrain")
        storage.write_json("generator.json", {
            "backend": backend.kind,
            "modes": self.modes,
            "act_slots": self.act_slots,
            "act_needs": self.act_needs,
            "delexicaliser": self.delexicaliser.to_dict(),
            "fit": self.fit_result,
            # the phrases travel with the model: a served model has no project folder
            # to read blocklist_file from
            "blocklist": self.blocklist.phrases,
        })
        backend.persist(storage)

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage,
             quantize: bool = False) -> NeuralResponseGenerator:
        """Rebuild the trained generator; int8 weights with ``quantize`` or when its
        config asks for them."""
        state = storage.read_json("generator.json")
        if "blocklist" in state:
            generator = cls({**config, "blocklist_file": None})
            generator.config["blocklist_file"] = config.get("blocklist_file")
            generator.blocklist = Blocklist(state["blocklist"])
        else:
            # saved before the phrases were kept in the model
            generator = cls(config)
        generator.modes = list(state["modes"])
        generator.act_slots = {k: list(v) for k, v in state["act_slots"].items()}
        # saved before the needed slots were kept: every slot of an act counts as needed,
        # so an act with an unset slot falls back to its template instead of leaving a hole
        needs = state.get("act_needs", state["act_slots"])
        generator.act_needs = {k: list(v) for k, v in needs.items()}
        generator.delexicaliser = Delexicaliser.from_dict(state["delexicaliser"])
        generator.fit_result = dict(state.get("fit") or {})
        if state["backend"] == "transformer":
            from dialogflowlite.components.generation.scratch import ScratchBackend

            generator.backend = ScratchBackend.load(storage)
        else:
            from dialogflowlite.components.generation.pretrained import PretrainedBackend

            generator.backend = PretrainedBackend.load(storage)
        if quantize or generator.config["quantize"]:
            generator.quantize()
        return generator
