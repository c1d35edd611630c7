"""The transformer policy: a small Transformer that generalises from the stories.

It reads the last ``max_history`` states (intent and entities, previous
action, slots, active loop and whether it rejected) and scores every action
(:class:`~dialogflowlite.models.transformer_policy.DialogueTransformer`).
``max_history`` defaults to 5 (also for a ``TEDPolicy`` entry without it), where
Rasa's TEDPolicy reads the whole dialogue: a bounded window keeps training and
prediction cheap. With ``max_history: null`` (Rasa's default) it reads the whole
dialogue: the model still needs a bound for the age of a state, so training
sizes it from the longest training dialogue (augmented stories included) and
saves it with the model; a longer conversation keeps its last states that fit.
Trained on the stories only, plus optional augmented stories (two stories
glued together) that teach it to ignore what came before a story. Training
uses the shared loop (:mod:`dialogflowlite.training.loop`) with a fixed seed
and stops once it reproduces every training action, so small bots train in
a second or two. Stands in for Rasa's ``TEDPolicy``. The bot texts of the
stories' ``bot:`` steps are actions of its own, after the domain's (Rasa's
``action_texts``): predicting one means sending that text.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, ClassVar

from dialogflowlite.components.policies.base import (
    BOT_TEXT_REVISION,
    REVISION_KEY,
    UNLIKELY_INTENT_REVISION,
    Conversation,
    Policy,
    PolicyContext,
    PolicyPrediction,
    SavedRevision,
)
from dialogflowlite.components.policies.dialogues import (
    dialogue_texts,
    glued_paths,
    training_dialogues,
    without_unlikely_intents,
)
from dialogflowlite.components.policies.state_vectors import StateVocabulary
from dialogflowlite.errors import Position, TrainingError
from dialogflowlite.models.threads import one_torch_thread
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.recent import RecentItems
from dialogflowlite.shared.story_paths import StoryPath
from dialogflowlite.training.finetune import (
    FinetuneSource,
    check_same_labels,
    check_same_shape,
    finetune_epochs,
)

logger = logging.getLogger(__name__)

TRANSFORMER_PRIORITY = 1
META_FILE = "transformer_policy.json"
WEIGHTS_FILE = "model.safetensors"
#: how many windows' probabilities a loaded policy remembers
RECENT_WINDOWS = 4096
#: training stops once every training action is predicted and the mean loss is this close
#: to the lowest the data allows
TARGET_LOSS = 0.1
#: Rasa's TEDPolicy settings that have no meaning here (ignored with a notice)
TED_ONLY_KEYS = (
    "featurizer", "constrain_similarities", "model_confidence", "evaluate_every_number_of_epochs",
    "evaluate_on_number_of_examples", "tensorboard_log_directory", "tensorboard_log_level",
    "checkpoint_model", "split_entities_by_comma", "entity_recognition", "BILOU_flag",
    "loss_type", "similarity_type", "ranking_length", "renormalize_confidence",
    "embedding_dimension", "number_of_negative_examples", "negative_margin_scale",
    "scale_loss", "regularization_constant", "connection_density", "use_sparse_input_dropout",
    "use_dense_input_dropout", "unidirectional_encoder", "encoding_dimension",
    "hidden_layers_sizes",
    "drop_rate_attention", "drop_rate_label", "drop_rate_dialogue", "key_relative_attention",
    "value_relative_attention", "max_relative_position", "batch_strategy", "use_gpu",
    "intent_classification", "maximum_positive_similarity", "maximum_negative_similarity",
    "use_maximum_negative_similarity", "transformer_size", "number_of_transformer_layers",
    "number_of_attention_heads", "drop_rate", "run_eagerly",
)


class TransformerPolicy(Policy):
    """Predicts the next action with a Transformer over the recent states (TEDPolicy's role).

    Its confidence is the softmax probability of the action; with the
    default priority it wins only where memoization and rules have nothing.
    """

    name: ClassVar[str] = "TransformerPolicy"
    #: one saved before learnt the stories' ``action_unlikely_intent`` steps; the bump
    #: retrains it (nothing tells from the saved network whether it learnt any)
    revision: ClassVar[int] = UNLIKELY_INTENT_REVISION
    finetunable: ClassVar[bool] = True
    default_priority: ClassVar[int] = TRANSFORMER_PRIORITY
    skippable_when_outranked: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {
        "max_history": 5,
        "hidden_size": 64,
        "num_layers": 1,
        "num_heads": 4,
        "intermediate_size": 128,
        "dropout": 0.1,
        "epochs": 100,
        "batch_size": 64,
        "learning_rate": 0.01,
        "weight_decay": 0.0,
        #: glued story pairs per story (0: no augmentation)
        "augmentation": 2,
        "priority": None,
    }
    compatible_keys: ClassVar[tuple[str, ...]] = TED_ONLY_KEYS

    def __init__(self, config: dict | None = None, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.vocabulary: StateVocabulary | None = None
        self.actions: list[str] = []
        #: the labels among ``actions`` that are bot texts (``bot:`` steps)
        self.action_texts: frozenset[str] = frozenset()
        self.model: Any = None
        #: how many states the model reads: ``max_history``, or for null the length
        #: training found (None until trained or loaded)
        self.history_size: int | None = self.configured_history
        self.training_summary: dict[str, Any] = {}
        #: probabilities of recently seen windows: conversations keep reaching the same
        #: abstract states (intent, slots, previous action), and the model is a pure
        #: function of them, so a served bot answers most predictions from here
        self._recent: RecentItems[tuple, dict[str, float]] = RecentItems(RECENT_WINDOWS)

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """Sizes and counts of 1 or more (``max_history`` may also be null: the whole
        dialogue), rates and fractions in their ranges."""
        super().check_config(config, position=position)
        cls.check_number(config, "max_history", at_least=1, whole=True, nullable=True,
                         position=position)
        cls.check_training_settings(config, position=position)
        cls.check_numbers(config, ("num_layers", "intermediate_size"), at_least=1, whole=True,
                          position=position)
        sizes_fine = cls.check_numbers(config, ("hidden_size", "num_heads"), at_least=1,
                                       whole=True, position=position)
        cls.check_number(config, "augmentation", at_least=0, whole=True, position=position)
        if sizes_fine and config["hidden_size"] % config["num_heads"]:
            cls.report_bad_setting(
                f"component {cls.name}: hidden_size {config['hidden_size']} is not a multiple "
                f"of num_heads {config['num_heads']}",
                hint="make hidden_size a multiple of num_heads", position=position)

    @property
    def configured_history(self) -> int | None:
        """``max_history`` as configured: a number of states, or None for the whole dialogue."""
        value = self.config.get("max_history")
        return None if value is None else int(value)

    # ------------------------------------------------------------ training

    def _samples(self, paths: Sequence[StoryPath], domain: Domain, seed: int):
        stories = [p for p in paths if p.kind == "story"]
        count = int(self.config["augmentation"]) * len(stories)
        # action_unlikely_intent steps are left out, as they are at prediction (the story
        # view): the policy learns what follows them from the states before them
        dialogues = [without_unlikely_intents(dialogue) for dialogue in training_dialogues(
            [*stories, *glued_paths(stories, count, seed)], self.featurizer(domain),
            kind="story")]
        self.action_texts = dialogue_texts(dialogues)
        seen: set[tuple] = set()
        samples = []
        history = self.configured_history
        for dialogue in dialogues:
            for index, action in enumerate(dialogue.actions):
                start = 0 if history is None else max(0, index + 1 - history)
                window = tuple(dialogue.states[start: index + 1])
                if (window, action) not in seen:
                    seen.add((window, action))
                    samples.append((window, action))
        return samples

    def _history_size(self, samples: Sequence[tuple[tuple, str]],
                      stored: dict[str, Any] | None) -> int:
        """How many states the model reads: ``max_history`` when set; for null, the
        model being fine-tuned keeps its size, and a new one fits the longest window."""
        if self.configured_history is not None:
            return self.configured_history
        if stored is not None:
            return int(stored["model"]["max_history"])
        return max(len(window) for window, _ in samples)

    def _encode(self, windows: Sequence[Sequence[Any]]) -> list[tuple[tuple, tuple]]:
        """Each window as its sparse entries and row mask (see StateVocabulary.encode)."""
        assert self.vocabulary is not None and self.history_size is not None
        return [tuple(map(tuple, self.vocabulary.encode(w, self.history_size))) for w in windows]

    def _tensors(self, encoded: Sequence[tuple[tuple, tuple]]):
        """Dense ``[n, history, features]`` windows and their ``[n, history]`` masks."""
        import torch

        assert self.vocabulary is not None and self.history_size is not None
        features = torch.zeros(len(encoded), self.history_size, len(self.vocabulary))
        masks = torch.tensor([mask for _, mask in encoded], dtype=torch.bool)
        where = [(n, row, column) for n, (entries, _) in enumerate(encoded)
                 for row, column, _ in entries]
        if where:
            index = torch.tensor(where, dtype=torch.long)
            values = torch.tensor([value for entries, _ in encoded for _, _, value in entries])
            features[index[:, 0], index[:, 1], index[:, 2]] = values
        return features, masks

    def train(self, paths: Sequence[StoryPath], domain: Domain, context: PolicyContext) -> None:
        """Train on the stories (rules are the rule policy's); no stories: nothing to learn."""
        import torch

        from dialogflowlite.models.transformer_policy import (
            DialogueTransformer,
            DialogueTransformerConfig,
        )
        from dialogflowlite.training.loop import StepOutput, device_of

        self._recent.clear()
        samples = self._samples(paths, domain, context.seed)
        if not samples:
            logger.info("%s: no stories to learn from; it will predict nothing", self.name)
            self.model = None
            return
        self.vocabulary = StateVocabulary.build(domain, (s for w, _ in samples for s in w))
        self.actions = list(domain.action_names)
        self.actions += sorted({a for _, a in samples} - set(self.actions))
        stored = self._finetune_meta(context.finetune_from) if context.finetune_from else None
        self.history_size = self._history_size(samples, stored)
        action_index = {a: i for i, a in enumerate(self.actions)}
        encoded = self._encode([window for window, _ in samples])
        features, masks = self._tensors(encoded)
        labels = torch.tensor([action_index[a] for _, a in samples], dtype=torch.long)
        items = list(range(len(samples)))

        torch.manual_seed(context.seed)
        self.model = DialogueTransformer(DialogueTransformerConfig(
            num_features=len(self.vocabulary), num_actions=len(self.actions),
            max_history=self.history_size, hidden_size=int(self.config["hidden_size"]),
            num_layers=int(self.config["num_layers"]), num_heads=int(self.config["num_heads"]),
            intermediate_size=int(self.config["intermediate_size"]),
            dropout=float(self.config["dropout"])))
        if stored is not None:
            check_same_shape(self.name, context.finetune_from, stored["model"],
                             self.model.config.to_dict(), ignore=("dropout",))
            self.model.load_state_dict(context.finetune_from.storage.read_tensors(WEIGHTS_FILE))

        def collate(indices: list[int]):
            chosen = torch.tensor(indices)
            return features[chosen], masks[chosen], labels[chosen]

        def step(model, batch) -> StepOutput:
            x, m, y = batch
            logits = model(x, m)
            loss = torch.nn.functional.cross_entropy(logits, y)
            return StepOutput(loss, int((logits.argmax(-1) == y).sum()), len(y))

        reachable, loss_floor = _training_target(
            [(key, action) for key, (_, action) in zip(encoded, samples, strict=True)])
        evaluations = [0]

        def evaluate(model) -> float:
            # The loop keeps the best-scoring weights and stops after `patience`
            # evaluations without a better score. Until the model predicts every
            # training action it can (with a loss near the floor that windows
            # followed by different actions impose), the score is the evaluation
            # count, which always rises; from then on it is a constant, so
            # training stops one evaluation later with these weights.
            logits = model(features.to(device_of(model)), masks.to(device_of(model))).cpu()
            accuracy = float((logits.argmax(-1) == labels).float().mean())
            loss = float(torch.nn.functional.cross_entropy(logits, labels))
            evaluations[0] += 1
            if accuracy >= reachable and loss <= loss_floor + TARGET_LOSS:
                return float("inf")
            return float(evaluations[0])

        with one_torch_thread():
            result = self._fit(items, collate, step, evaluate, context)
        self.model.to("cpu").eval()
        self.training_summary = {"samples": len(samples), "epochs": round(result.epochs, 2),
                                 "seconds": round(result.seconds, 2),
                                 "reached_target": result.best_score == float("inf")}
        logger.info("%s: %d examples, %.1f epochs, %.1fs", self.name, len(samples),
                    result.epochs, result.seconds)

    def _finetune_meta(self, source: FinetuneSource) -> dict[str, Any]:
        """The stored policy's description, checked to predict the same actions from the
        same state features (``train --finetune``)."""
        meta = source.storage.read_json(META_FILE)
        if not meta.get("trained"):
            raise TrainingError(f"{self.name} cannot be fine-tuned from {source.model.name}: "
                                "it learnt nothing there (no stories)",
                                hint="train without --finetune")
        check_same_labels(self.name, source, "actions", meta["actions"], self.actions)
        stored = StateVocabulary.from_json(meta["vocabulary"])
        new = [name for name in self.vocabulary.names if name not in stored.index]
        if new:
            check_same_labels(self.name, source, "state features (intents, entities, slots "
                              "and actions of the stories)", stored.names,
                              stored.names + new)
        # the stored weights read the stored features, in their order
        self.vocabulary = stored
        return meta

    def _fit(self, items, collate, step, evaluate, context: PolicyContext):
        from dialogflowlite.training.loop import LoopConfig, fit

        epochs = int(self.config["epochs"])
        if context.finetune_from is not None:
            epochs = finetune_epochs(epochs, context.epoch_fraction)
        return fit(self.model, items, collate, step, LoopConfig(
            epochs=epochs, batch_size=int(self.config["batch_size"]),
            learning_rate=float(self.config["learning_rate"]),
            weight_decay=float(self.config["weight_decay"]), warmup_ratio=0.05,
            patience=1, seed=context.seed, device=context.device, progress=context.progress,
            description=self.name), evaluate=evaluate)

    # ------------------------------------------------------------ prediction

    def probabilities(self, conversation: Conversation) -> dict[str, float]:
        """The probability of every action after the conversation's latest state."""
        import torch

        if self.model is None or self.vocabulary is None:
            return {}
        encoded = self._encode([conversation.states])
        known = self._recent.get(encoded[0])
        if known is not None:
            return dict(known)
        features, masks = self._tensors(encoded)
        with torch.no_grad(), one_torch_thread():
            logits = self.model(features, masks)
            probabilities = torch.softmax(logits[0], dim=-1).tolist()
        found = dict(zip(self.actions, probabilities, strict=True))
        self._recent.put(encoded[0], found)
        return dict(found)

    def predict_conversation(self, conversation: Conversation, domain: Domain) -> PolicyPrediction:
        probabilities = self.probabilities(conversation)
        if not probabilities:
            return PolicyPrediction.nothing(self)
        return self.prediction(probabilities, action_texts=self.action_texts)

    # ------------------------------------------------------------ persistence

    def persist(self, storage) -> None:
        if self.model is None or self.vocabulary is None:
            storage.write_json(META_FILE, {"trained": False})
            return
        storage.write_json(META_FILE, {
            REVISION_KEY: self.revision, "trained": True, "actions": self.actions,
            "action_texts": sorted(self.action_texts), "vocabulary": self.vocabulary.to_json(),
            "model": self.model.config.to_dict(), "training": self.training_summary})
        storage.write_tensors(WEIGHTS_FILE, self.model.state_dict())

    @classmethod
    def load(cls, config: dict[str, Any], storage) -> TransformerPolicy:
        """The saved network. One saved before :data:`BOT_TEXT_REVISION` (its
        ``action_texts`` not listed) scores ``action_send_text`` for the stories'
        ``bot:`` steps (see :meth:`Policy.prediction`)."""
        policy = cls(config)
        meta = storage.read_json(META_FILE)
        if not meta.get("trained"):
            return policy
        from dialogflowlite.models.transformer_policy import (
            DialogueTransformer,
            DialogueTransformerConfig,
        )

        policy.actions = list(meta["actions"])
        policy.action_texts = frozenset(meta.get("action_texts") or ())
        policy.vocabulary = StateVocabulary.from_json(meta["vocabulary"])
        policy.saved_revision = SavedRevision.of(
            meta, cls, at_most=None if "action_texts" in meta else BOT_TEXT_REVISION - 1)
        # the text of a bot step is a feature of the state after it: only the stories'
        # bot steps put such features in the vocabulary
        policy.learnt_bot_steps_without_text = (
            "action_texts" not in meta
            and any(name.startswith("action_text:") for name in policy.vocabulary.names))
        policy.training_summary = dict(meta.get("training") or {})
        policy.model = DialogueTransformer(DialogueTransformerConfig(**meta["model"]))
        policy.history_size = policy.model.config.max_history
        policy.model.load_state_dict(storage.read_tensors(WEIGHTS_FILE))
        policy.model.eval()
        return policy


def _training_target(samples: Sequence[tuple[Any, str]]) -> tuple[float, float]:
    """The best training accuracy and the lowest mean loss the samples allow.

    Windows that look the same to the model but are followed by different
    actions cannot all be right: the majority action counts, and their label
    entropy is a floor for the loss.
    """
    counts: dict[Any, dict[str, int]] = {}
    for window, action in samples:
        by_action = counts.setdefault(window, {})
        by_action[action] = by_action.get(action, 0) + 1
    right = floor = 0.0
    for by_action in counts.values():
        total = sum(by_action.values())
        right += max(by_action.values())
        floor -= sum(n * math.log(n / total) for n in by_action.values())
    return right / len(samples) - 1e-9, floor / len(samples)

