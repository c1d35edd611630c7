"""``test nlu``: score a trained NLU pipeline on labelled messages.

:func:`evaluate_nlu` parses the test messages (in batches) and compares:

* intents: base intents (``faq`` for ``faq/ask_name``), a classification report
  with accuracy, micro / macro / weighted averages, the confusion matrix and
  the confidence of right and wrong predictions;
* entities: CoNLL span level (label and both boundaries must match), per label
  (the entity type, with ``#role=`` / ``#group=`` when annotated) and averaged.
  Entities of pretrained extractors (Duckling, spaCy) are left out: their
  labels are not learnt from the data;
* retrieval intents: the response selector's pick (``faq/ask_name``) against
  the full intent, when the test data has retrieval intents;
* sentence accuracy: intent right and every entity span right.

:func:`run_nlu_test` is the ``dialogflowlite test nlu`` command's library
function: it finds the model and the test data, evaluates (or cross-validates
by training the project's pipeline on K stratified folds), writes the reports
and plots under ``results/`` and prints a summary table.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import (
    DialogflowLiteError,
    ModelLoadError,
    ProjectError,
    ProjectNotFoundError,
    ProjectValidationError,
    TrainingError,
)
from dialogflowlite.evaluation.nlu_metrics import (
    Span,
    classification_report,
    confusion_matrix,
    span_report,
)
from dialogflowlite.evaluation.reports import write_json
from dialogflowlite.io.loader import resolve_in_project, resolve_output
from dialogflowlite.shared.message import (
    RETRIEVAL_SEPARATOR,
    Entity,
    Message,
    selected_response,
    selected_retrieval_intent,
)
from dialogflowlite.shared.training_data import TrainingData

if TYPE_CHECKING:
    from dialogflowlite.components.nlu.pipeline import NluPipeline
    from dialogflowlite.io.loader import Project

logger = logging.getLogger(__name__)

#: extractors whose entity types come from a pretrained model, not from the training data
PRETRAINED_EXTRACTORS = frozenset({"DucklingEntityExtractor", "SpacyEntityExtractor"})
#: the label of "no prediction"
NO_PREDICTION = "(none)"

INTENT_REPORT = "intent_report.json"
INTENT_ERRORS = "intent_errors.json"
ENTITY_REPORT = "entity_report.json"
ENTITY_ERRORS = "entity_errors.json"
RESPONSE_REPORT = "response_selection_report.json"
RESPONSE_ERRORS = "response_selection_errors.json"
#: ``<extractor>_errors.json``: one extractor's wrong messages, beside
#: ``<extractor>_report.json``, for each extractor that predicted entities
EXTRACTOR_ERRORS_SUFFIX = "_errors.json"
CONFUSION_MATRIX = "intent_confusion_matrix.png"
HISTOGRAM = "intent_histogram.png"
RESPONSE_CONFUSION_MATRIX = "response_selection_confusion_matrix.png"
RESPONSE_HISTOGRAM = "response_selection_histogram.png"
#: what ``--successes`` adds: the right predictions, in the shape of the error lists
INTENT_SUCCESSES = "intent_successes.json"
RESPONSE_SUCCESSES = "response_selection_successes.json"
#: every plot ``write`` draws (what ``--no-plot`` leaves out)
PLOT_FILES = (CONFUSION_MATRIX, HISTOGRAM, RESPONSE_CONFUSION_MATRIX, RESPONSE_HISTOGRAM)
CROSS_VALIDATION = "cross_validation.json"


def _spans(entities: Sequence[Entity]) -> list[Span]:
    return sorted({(e.label, e.start, e.end) for e in entities})


def _entity_json(entity: Entity, text: str) -> dict[str, Any]:
    data = {
        "entity": entity.entity,
        "start": entity.start,
        "end": entity.end,
        "value": entity.value,
        "text": text[entity.start : entity.end],
    }
    for key in ("role", "group", "extractor"):
        if getattr(entity, key):
            data[key] = getattr(entity, key)
    return data


def predicted_response_key(message: Message, base_intent: str | None) -> str | None:
    """The retrieval intent (``faq/ask_name``) the response selector picked for a message."""
    return selected_retrieval_intent({"response_selector": message.response_selector},
                                     base_intent)


@dataclass
class PredictionRecord:
    """One test message: what was expected and what the pipeline said."""

    text: str
    intent: str
    intent_prediction: str
    confidence: float
    entities: list[Entity]
    predicted_entities: list[Entity]
    #: the full retrieval intent (``faq/ask_name``), when the example has one
    retrieval_intent: str | None = None
    retrieval_prediction: str | None = None
    retrieval_confidence: float = 0.0

    @property
    def intent_correct(self) -> bool:
        return self.intent == self.intent_prediction

    @property
    def retrieval_correct(self) -> bool:
        """Whether the response selector picked the example's retrieval intent."""
        return self.retrieval_intent == self.retrieval_prediction

    @property
    def entities_correct(self) -> bool:
        return _spans(self.entities) == _spans(self.predicted_entities)


def predict(
    pipeline: NluPipeline, examples: Sequence[Message], batch_size: int = 64
) -> list[PredictionRecord]:
    """Parse every labelled example with ``pipeline`` and pair it with its labels."""
    records: list[PredictionRecord] = []
    labelled = [m for m in examples if m.intent]
    for offset in range(0, len(labelled), max(1, batch_size)):
        chunk = labelled[offset : offset + max(1, batch_size)]
        records += pair_predictions(chunk, pipeline.parse_batch([m.text for m in chunk]))
    return records


def pair_predictions(examples: Sequence[Message],
                     parsed: Sequence[Message]) -> list[PredictionRecord]:
    """Each labelled example with what the pipeline made of its text.

    A retrieval intent is scored against the response selector's pick only when
    the pipeline has a response selector (it answers every message): without
    one there is nothing to score, and Rasa leaves response selection out.
    """
    records: list[PredictionRecord] = []
    for example, message in zip(examples, parsed, strict=True):
        is_retrieval = RETRIEVAL_SEPARATOR in (example.intent or "")
        retrieval = example.intent if is_retrieval and message.response_selector else None
        records.append(
            PredictionRecord(
                text=example.text,
                intent=example.base_intent or NO_PREDICTION,
                intent_prediction=message.intent or NO_PREDICTION,
                confidence=float(message.confidence or 0.0),
                entities=list(example.entities),
                predicted_entities=[
                    e for e in message.entities if e.extractor not in PRETRAINED_EXTRACTORS
                ],
                retrieval_intent=retrieval,
                retrieval_prediction=(
                    predicted_response_key(message, example.base_intent) or NO_PREDICTION
                )
                if retrieval
                else None,
                retrieval_confidence=float(selected_response(
                    {"response_selector": message.response_selector},
                    example.base_intent).get("confidence") or 0.0) if retrieval else 0.0,
            )
        )
    return records


@dataclass
class NluEvaluation:
    """The scores of one evaluation (or of all folds of a cross-validation together)."""

    records: list[PredictionRecord]
    intent_report: dict[str, Any] = field(init=False)
    entity_report: dict[str, Any] = field(init=False)
    response_selection_report: dict[str, Any] | None = field(init=False)

    def __post_init__(self) -> None:
        records = self.records
        self.intent_report = classification_report(
            [r.intent for r in records], [r.intent_prediction for r in records]
        )
        self.entity_report = span_report(
            [_spans(r.entities) for r in records], [_spans(r.predicted_entities) for r in records]
        )
        retrieval = [r for r in records if r.retrieval_intent]
        self.response_selection_report = (
            classification_report(
                [r.retrieval_intent for r in retrieval], [r.retrieval_prediction for r in retrieval]
            )
            if retrieval
            else None
        )

    # ------------------------------------------------------------ numbers

    @property
    def sentence_accuracy(self) -> float:
        """Share of messages with the right intent and exactly the right entity spans."""
        if not self.records:
            return 0.0
        right = sum(r.intent_correct and r.entities_correct for r in self.records)
        return right / len(self.records)

    @property
    def has_entities(self) -> bool:
        return self.entity_report["micro avg"]["support"] > 0 or any(
            r.predicted_entities for r in self.records
        )

    def summary(self) -> dict[str, float]:
        """The headline numbers (what cross-validation averages)."""
        intents, entities = self.intent_report, self.entity_report
        numbers = {
            "intent_accuracy": intents["accuracy"],
            "intent_f1_macro": intents["macro avg"]["f1-score"],
            "intent_f1_weighted": intents["weighted avg"]["f1-score"],
            "entity_precision": entities["micro avg"]["precision"],
            "entity_recall": entities["micro avg"]["recall"],
            "entity_f1": entities["micro avg"]["f1-score"],
            "entity_f1_macro": entities["macro avg"]["f1-score"],
            "sentence_accuracy": self.sentence_accuracy,
        }
        if self.response_selection_report is not None:
            numbers["response_selection_accuracy"] = self.response_selection_report["accuracy"]
        return numbers

    # ------------------------------------------------------------ error lists

    def intent_errors(self) -> list[dict[str, Any]]:
        """Wrongly classified messages, in Rasa's ``intent_errors.json`` shape."""
        return [
            {
                "text": r.text,
                "intent": r.intent,
                "intent_prediction": {"name": r.intent_prediction, "confidence": r.confidence},
            }
            for r in self.records
            if not r.intent_correct
        ]

    def entity_errors(self) -> list[dict[str, Any]]:
        """Messages whose predicted entity spans differ from the annotated ones."""
        return [
            {
                "text": r.text,
                "entities": [_entity_json(e, r.text) for e in r.entities],
                "predicted_entities": [_entity_json(e, r.text) for e in r.predicted_entities],
            }
            for r in self.records
            if not r.entities_correct
        ]

    def response_selection_errors(self) -> list[dict[str, Any]]:
        """Retrieval-intent messages whose response key the selector got wrong (Rasa's
        ``response_selection_errors.json`` shape)."""
        return [_response_entry(r) for r in self._retrieval_records() if not r.retrieval_correct]

    # ------------------------------------------------------------ success lists

    def intent_successes(self) -> list[dict[str, Any]]:
        """Rightly classified messages, in the shape of ``intent_errors.json``'s entries."""
        return [
            {
                "text": r.text,
                "intent": r.intent,
                "intent_prediction": {"name": r.intent_prediction, "confidence": r.confidence},
            }
            for r in self.records
            if r.intent_correct
        ]

    def response_selection_successes(self) -> list[dict[str, Any]]:
        """Retrieval-intent messages whose response key the selector got right."""
        return [_response_entry(r) for r in self._retrieval_records() if r.retrieval_correct]

    def _retrieval_records(self) -> list[PredictionRecord]:
        return [r for r in self.records if r.retrieval_intent]

    # ------------------------------------------------------------ Rasa's API shape

    def to_rasa_json(self) -> dict[str, Any]:
        """The result in the shape of Rasa's ``POST /model/test/intents`` answer.

        Entities are scored per extractor, as Rasa does; an extractor's
        ``accuracy`` here is the share of messages whose spans from that
        extractor are exactly the annotated ones.
        """
        intents = self.intent_report
        result: dict[str, Any] = {
            "intent_evaluation": {
                "report": intents,
                "accuracy": intents["accuracy"],
                "f1_score": intents["weighted avg"]["f1-score"],
                "precision": intents["weighted avg"]["precision"],
                "predictions": [
                    {"text": r.text, "intent": r.intent, "predicted": r.intent_prediction,
                     "confidence": r.confidence}
                    for r in self.records
                ],
                "errors": self.intent_errors(),
            },
            "entity_evaluation": {},
            "response_selection_evaluation": None,
        }
        result["entity_evaluation"] = self.extractor_evaluations()
        if self.response_selection_report is not None:
            selection = self.response_selection_report
            result["response_selection_evaluation"] = {
                "report": selection,
                "accuracy": selection["accuracy"],
                "f1_score": selection["weighted avg"]["f1-score"],
                "precision": selection["weighted avg"]["precision"],
                "predictions": [
                    {"text": r.text, "intent_response_key_target": r.retrieval_intent,
                     "intent_response_key_prediction": r.retrieval_prediction,
                     "confidence": r.retrieval_confidence}
                    for r in self._retrieval_records()
                ],
                "errors": self.response_selection_errors(),
            }
        return result

    # ------------------------------------------------------------ output

    def extractor_evaluations(self) -> dict[str, dict[str, Any]]:
        """Each entity extractor's spans scored alone, as Rasa scores them: its report,
        ``accuracy`` (the share of messages whose spans from that extractor are exactly
        the annotated ones), micro F1 and precision, and its errors."""
        evaluations: dict[str, dict[str, Any]] = {}
        extractors = sorted({e.extractor or "unknown" for r in self.records
                             for e in r.predicted_entities})
        gold = [_spans(r.entities) for r in self.records]
        for extractor in extractors:
            predicted = [[e for e in r.predicted_entities if (e.extractor or "unknown")
                          == extractor] for r in self.records]
            guesses = [_spans(p) for p in predicted]
            report = span_report(gold, guesses)
            evaluations[extractor] = {
                "report": report,
                "accuracy": sum(g == p for g, p in zip(gold, guesses, strict=True))
                / max(1, len(gold)),
                "f1_score": report["micro avg"]["f1-score"],
                "precision": report["micro avg"]["precision"],
                "errors": [
                    {"text": r.text,
                     "entities": [_entity_json(e, r.text) for e in r.entities],
                     "predicted_entities": [_entity_json(e, r.text) for e in mine]}
                    for r, mine, g, p in zip(self.records, predicted, gold, guesses, strict=True)
                    if g != p
                ],
            }
        return evaluations

    def write(self, output_dir: str | Path, *, plots: bool = True) -> list[Path]:
        """Write the reports, error lists and (unless not ``plots``) plots into
        ``output_dir``; returns the files."""
        from dialogflowlite.evaluation.plots import (
            plot_confidence_histogram,
            plot_confusion_matrix,
        )

        folder = Path(output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        written = [
            write_json(folder / INTENT_REPORT, self.intent_report),
            write_json(folder / INTENT_ERRORS, self.intent_errors()),
            write_json(folder / ENTITY_REPORT, self.entity_report),
            write_json(folder / ENTITY_ERRORS, self.entity_errors()),
        ]
        if self.response_selection_report is not None:
            written.append(write_json(folder / RESPONSE_REPORT, self.response_selection_report))
            written.append(write_json(folder / RESPONSE_ERRORS, self.response_selection_errors()))
        # each extractor's spans alone, as Rasa writes them (for one extractor too:
        # scripts read `<Extractor>_report.json`); the pooled report counts one
        # extractor's span against another's (a regex's `city` beside the classifier's
        # `city#role=from`)
        evaluations = self.extractor_evaluations()
        for name, evaluation in evaluations.items():
            if name == "unknown" and len(evaluations) == 1:
                continue  # (entities no component named: the pooled report is theirs)
            written.append(write_json(folder / f"{name}_report.json", evaluation["report"]))
            written.append(write_json(folder / f"{name}{EXTRACTOR_ERRORS_SUFFIX}",
                                      evaluation["errors"]))
        if not plots:
            return written
        labels, matrix = confusion_matrix(
            [r.intent for r in self.records], [r.intent_prediction for r in self.records]
        )
        written.append(plot_confusion_matrix(labels, matrix, folder / CONFUSION_MATRIX))
        written.append(
            plot_confidence_histogram(
                [r.confidence for r in self.records if r.intent_correct],
                [r.confidence for r in self.records if not r.intent_correct],
                folder / HISTOGRAM,
            )
        )
        if self.response_selection_report is not None:
            written += self._write_response_selection_plots(folder)
        return written

    def _write_response_selection_plots(self, folder: Path) -> list[Path]:
        """The response selector's confusion matrix and confidence histogram, as Rasa
        draws them next to the intent plots."""
        from dialogflowlite.evaluation.plots import (
            plot_confidence_histogram,
            plot_confusion_matrix,
        )

        retrieval = self._retrieval_records()
        labels, matrix = confusion_matrix(
            [r.retrieval_intent or NO_PREDICTION for r in retrieval],
            [r.retrieval_prediction or NO_PREDICTION for r in retrieval],
        )
        return [
            plot_confusion_matrix(labels, matrix, folder / RESPONSE_CONFUSION_MATRIX,
                                  title="Response selection confusion matrix"),
            plot_confidence_histogram(
                [r.retrieval_confidence for r in retrieval if r.retrieval_correct],
                [r.retrieval_confidence for r in retrieval if not r.retrieval_correct],
                folder / RESPONSE_HISTOGRAM,
                title="Response selection prediction confidence",
            ),
        ]

    def write_successes(self, output_dir: str | Path) -> list[Path]:
        """Write the lists of right predictions into ``output_dir`` (what ``--successes``
        adds): ``intent_successes.json`` and, with retrieval intents,
        ``response_selection_successes.json``; returns the files."""
        folder = Path(output_dir)
        written = [write_json(folder / INTENT_SUCCESSES, self.intent_successes())]
        if self.response_selection_report is not None:
            written.append(write_json(folder / RESPONSE_SUCCESSES,
                                      self.response_selection_successes()))
        return written

    def summary_table(self) -> str:
        """A plain-text table of the headline numbers."""
        return _table(
            f"NLU evaluation on {len(self.records)} messages",
            {key: _fmt(value) for key, value in self.summary().items()},
            self.has_entities,
        )


def _response_entry(record: PredictionRecord) -> dict[str, Any]:
    """One entry of the response selection errors or successes (Rasa's shape)."""
    return {
        "text": record.text,
        "intent_response_key_target": record.retrieval_intent,
        "intent_response_key_prediction": {"name": record.retrieval_prediction,
                                           "confidence": record.retrieval_confidence},
    }


def _fmt(value: float) -> str:
    return f"{value:.3f}"


_ROWS = (
    ("intent_accuracy", "intent accuracy"),
    ("intent_f1_macro", "intent F1 (macro)"),
    ("intent_f1_weighted", "intent F1 (weighted)"),
    ("entity_precision", "entity precision (micro)"),
    ("entity_recall", "entity recall (micro)"),
    ("entity_f1", "entity F1 (micro, CoNLL spans)"),
    ("entity_f1_macro", "entity F1 (macro)"),
    ("sentence_accuracy", "sentence accuracy"),
    ("response_selection_accuracy", "response selection accuracy"),
)


def _table(title: str, values: dict[str, str], entities: bool) -> str:
    rows = [
        (label, values[key])
        for key, label in _ROWS
        if key in values and (entities or not key.startswith("entity_"))
    ]
    width = max(len(label) for label, _ in rows)
    lines = [title, f"{'metric'.ljust(width)}  value", f"{'-' * width}  {'-' * 13}"]
    lines += [f"{label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join(lines)


def evaluate_nlu(
    pipeline: NluPipeline, test_data: TrainingData | Sequence[Message], *, batch_size: int = 64
) -> NluEvaluation:
    """Parse the labelled test messages with ``pipeline`` and score the predictions."""
    examples = test_data.examples if isinstance(test_data, TrainingData) else list(test_data)
    if not any(m.intent for m in examples):
        raise TrainingError(
            "the test data has no labelled messages",
            hint="add `- intent:` items with examples to the test data",
        )
    return NluEvaluation(predict(pipeline, examples, batch_size=batch_size))


# ---------------------------------------------------------------- cross-validation


def stratified_folds(examples: Sequence[Message], folds: int, seed: int = 42, *,
                     short_intent_note: str | None = "some folds are tested without it",
                     ) -> list[list[int]]:
    """Indices of ``examples`` split into ``folds`` parts with each intent spread evenly.

    Each intent's examples are shuffled (seeded) and dealt out in turn, the
    turn carrying over from one intent to the next, so folds also end up the
    same size give or take one. An intent with fewer examples than parts is
    logged with ``short_intent_note`` (what that means to the caller; None:
    not logged).
    """
    if folds < 2:
        raise TrainingError(
            f"cross-validation needs at least 2 folds, not {folds}",
            hint="pass --folds 5, for example",
        )
    if folds > len(examples):
        raise TrainingError(
            f"cannot make {folds} folds of {len(examples)} examples", hint="use fewer folds"
        )
    by_intent: dict[str, list[int]] = {}
    for index, example in enumerate(examples):
        by_intent.setdefault(example.intent or "", []).append(index)
    rng = random.Random(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    turn = 0
    for intent in sorted(by_intent):
        indices = by_intent[intent]
        if len(indices) < folds and short_intent_note is not None:
            logger.warning(
                "intent '%s' has %d examples, fewer than the %d parts: %s",
                intent,
                len(indices),
                folds,
                short_intent_note,
            )
        rng.shuffle(indices)
        for index in indices:
            parts[turn % folds].append(index)
            turn += 1
    return [sorted(part) for part in parts]


@dataclass
class CrossValidationResult:
    """Per-fold headline numbers, their mean and standard deviation, and all folds pooled."""

    folds: list[dict[str, float]]
    evaluation: NluEvaluation

    def _scores(self) -> dict[str, list[float]]:
        """Each headline number with its values over the folds that have it: a fold
        whose test part holds no retrieval intent has no response selection accuracy."""
        scores: dict[str, list[float]] = {}
        for fold in self.folds:
            for key, value in fold.items():
                scores.setdefault(key, []).append(value)
        return scores

    @property
    def mean(self) -> dict[str, float]:
        """Each headline number averaged over the folds that have it."""
        return {key: sum(values) / len(values) for key, values in self._scores().items()}

    @property
    def std(self) -> dict[str, float]:
        """The standard deviation of each headline number over the folds that have it."""
        mean = self.mean
        return {
            key: math.sqrt(sum((v - mean[key]) ** 2 for v in values) / len(values))
            for key, values in self._scores().items()
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "folds": len(self.folds),
            "per_fold": self.folds,
            "mean": self.mean,
            "std": self.std,
        }

    def write(self, output_dir: str | Path) -> list[Path]:
        """The pooled reports and plots, plus cross_validation.json with the fold numbers."""
        written = self.evaluation.write(output_dir)
        written.append(write_json(Path(output_dir) / CROSS_VALIDATION, self.to_dict()))
        return written

    def summary_table(self) -> str:
        mean, std = self.mean, self.std
        values = {key: f"{mean[key]:.3f} ± {std[key]:.3f}" for key in mean}
        return _table(
            f"NLU cross-validation, {len(self.folds)} folds "
            f"({len(self.evaluation.records)} messages), mean ± std over folds",
            values,
            self.evaluation.has_entities,
        )


def train_pipeline(
    project: Project, train_data: TrainingData, *, seed: int = 42, quiet: bool = False
) -> NluPipeline:
    """A fresh pipeline of ``project``'s config, trained on ``train_data`` without a
    progress bar (``quiet`` also leaves out the notices about translated component names)."""
    from dialogflowlite.components.base import NluContext
    from dialogflowlite.components.nlu.pipeline import NluPipeline

    pipeline = NluPipeline.from_config(project.config, training_data=train_data, quiet=quiet)
    pipeline.train(
        train_data,
        NluContext(
            language=project.config.language, domain=project.domain, seed=seed, progress=False
        ),
    )
    return pipeline


def cross_validate(
    project: Project, folds: int = 5, *, seed: int = 42, batch_size: int = 64
) -> CrossValidationResult:
    """Train the project's pipeline on K-1 folds and test on the one left out, K times."""
    data = project.nlu
    examples = [m for m in data.examples if m.intent]
    parts = stratified_folds(examples, folds, seed)
    per_fold: list[dict[str, float]] = []
    records: list[PredictionRecord] = []
    for number, test_indices in enumerate(parts, start=1):
        held_out = set(test_indices)
        train_data = TrainingData(
            [m for i, m in enumerate(examples) if i not in held_out],
            data.synonyms,
            data.regexes,
            data.lookups,
        )
        logger.info(
            "fold %d of %d: training on %d, testing on %d messages",
            number,
            folds,
            len(train_data.examples),
            len(test_indices),
        )
        pipeline = train_pipeline(project, train_data, seed=seed, quiet=number > 1)
        fold_records = predict(pipeline, [examples[i] for i in test_indices], batch_size)
        per_fold.append(NluEvaluation(fold_records).summary())
        records.extend(fold_records)
    return CrossValidationResult(per_fold, NluEvaluation(records))


# ---------------------------------------------------------------- the command


def load_nlu_data(path: str | Path, root: str | Path | None = None) -> TrainingData:
    """The NLU examples of one file, or of every file under a folder.

    YAML files are read, and so are Rasa's older Markdown NLU and JSON NLU
    files (as the project loader reads them under ``data/``). A lookup table of
    theirs that names a file is looked for in ``root``, the project folder, then
    next to the data file (Rasa 1 wrote ``data/cities.txt``, from the project
    folder); without ``root``, only next to the data file.
    """
    from dialogflowlite.io.json_nlu_reader import read_json_nlu
    from dialogflowlite.io.loader import JSON_NLU, MARKDOWN_NLU, old_training_data_format
    from dialogflowlite.io.markdown_reader import read_markdown_nlu
    from dialogflowlite.io.nlu_reader import NluReader
    from dialogflowlite.io.problems import ProblemLog
    from dialogflowlite.io.yaml import read_yaml_file

    source = Path(path)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*")
                       if p.suffix in (".yml", ".yaml", ".md", ".json") and p.is_file())
    elif source.is_file():
        files = [source]
    else:
        raise ProjectNotFoundError(
            f"NLU data {source} does not exist",
            hint="pass an NLU file (YAML, or Rasa's Markdown or JSON) or a folder of them "
                 "with --nlu",
        )
    log = ProblemLog()
    reader = NluReader(log)
    older = TrainingData()
    lookup_root = Path(root) if root is not None else None
    read = 0
    for file in files:
        kind = old_training_data_format(file)
        if kind == MARKDOWN_NLU:
            older = older.merge(read_markdown_nlu(file, log, lookup_root or file.parent))
        elif kind == JSON_NLU:
            older = older.merge(read_json_nlu(file, log, lookup_root or file.parent))
        elif file.suffix in (".yml", ".yaml"):
            data = read_yaml_file(file)
            if not (isinstance(data, dict) and "nlu" in data):
                continue
            reader.read(file, data, data["nlu"])
        else:
            continue
        read += 1
    if log.errors:
        raise ProjectValidationError(log.problems)
    if not read:
        # a domain or a model given with --nlu was "no labelled messages", naming neither
        raise ProjectNotFoundError(
            f"{source} holds no NLU data" + ("" if source.is_dir() else
                                              f" ({_what_file_holds(source)})"),
            hint="pass an NLU file (YAML with `nlu:`, or Rasa's Markdown or JSON NLU) or a "
                 "folder of them with --nlu")
    return reader.data.merge(older)


def _what_file_holds(path: Path) -> str:
    """What a file given as NLU data holds instead, in words."""
    from dialogflowlite.io.yaml import read_yaml_file

    if path.suffix not in (".yml", ".yaml"):
        return "it is no YAML, Markdown or JSON NLU file"
    try:
        data = read_yaml_file(path)
    except DialogflowLiteError:
        return "it cannot be read as YAML"
    if isinstance(data, dict) and data:
        keys = ", ".join(f"`{key}:`" for key in list(data)[:4])
        return f"its sections are {keys}, not `nlu:`"
    return "it has no `nlu:` section"


def nlu_data_from_yaml(text: str, name: str = "request body") -> TrainingData:
    """The NLU examples of one YAML document (``nlu:`` items), as a test file holds them."""
    from dialogflowlite.io.nlu_reader import NluReader
    from dialogflowlite.io.problems import ProblemLog
    from dialogflowlite.io.yaml import read_yaml

    data = read_yaml(text, name)
    if not isinstance(data, dict) or "nlu" not in data:
        raise ProjectError("the test data must be a mapping with `nlu:`",
                           hint="send the test examples as in a data file: `nlu:` then "
                                "`- intent: ...` items with `examples: |`")
    log = ProblemLog()
    reader = NluReader(log)
    reader.read(Path(name), data, data["nlu"])
    if log.errors:
        raise ProjectValidationError(log.problems)
    return reader.data


def run_nlu_test(
    project_dir: str | Path = ".",
    model_path: str | Path | None = None,
    nlu_file: str | Path | None = None,
    output_dir: str | Path | None = None,
    cross_validation: bool = False,
    folds: int = 5,
    *,
    seed: int = 42,
    batch_size: int = 64,
    echo: Callable[[str], None] = print,
) -> NluEvaluation | CrossValidationResult:
    """Evaluate the project's NLU and write the results; what ``dialogflowlite test nlu`` runs.

    Without ``cross_validation``: loads ``model_path`` (a model file, or a
    folder whose newest model is used; default: the project's ``models/``) and
    scores it on ``nlu_file`` (a YAML file or folder), or else on the NLU
    examples under the project's ``tests/``.

    With ``cross_validation``: trains the project's pipeline (config.yml) on
    ``folds`` - 1 stratified folds of the training data and tests on the
    remaining one, for every fold; writes the pooled reports and
    ``cross_validation.json`` (per fold, mean and standard deviation).

    Relative ``model_path`` and ``nlu_file`` paths that do not exist from the
    working directory are taken from ``project_dir``; a relative ``output_dir``
    is from the working directory (without one: ``project_dir``/results).
    Writes intent_report.json, intent_errors.json, entity_report.json,
    entity_errors.json, the confusion matrix and the confidence histogram PNGs
    (with retrieval intents in the test data also response_selection_report.json,
    response_selection_errors.json and the response selector's two PNGs), and
    echoes a summary table.
    """
    from dialogflowlite.io.loader import load_project

    root = Path(project_dir)
    output = resolve_output(output_dir, root)
    if cross_validation:
        project = load_project(root)  # a file that cannot be read is an error, not left out
        if not project.nlu.intent_examples:
            raise TrainingError(
                "the project has no NLU examples to cross-validate", hint="add examples under data/"
            )
        result: NluEvaluation | CrossValidationResult = cross_validate(
            project, folds, seed=seed, batch_size=batch_size
        )
    else:
        result = _evaluate_model(root, model_path, nlu_file, batch_size)
    written = result.write(output)
    echo(result.summary_table())
    echo(f"results written to {output}: " + ", ".join(p.name for p in written))
    return result


def _warn_about_unknown_intents(test_data: TrainingData, trained: list[str] | None,
                                model_file: Path) -> None:
    """A warning naming the test data's intents the model never learnt: each of their
    messages counts as an error, which a report alone does not say why."""
    if not trained:
        return  # an NLU-less model, or one saved before its intents were recorded
    unknown = sorted(set(test_data.intents) - set(trained))
    if unknown:
        logger.warning("the test data has intent(s) %s, which model %s did not learn: each of "
                       "their %d messages counts as wrong", ", ".join(map(repr, unknown)),
                       model_file.name,
                       sum(1 for m in test_data.examples if m.base_intent in unknown))


def _evaluate_model(
    root: Path, model_path: str | Path | None, nlu_file: str | Path | None, batch_size: int
) -> NluEvaluation:
    from dialogflowlite.artifact import latest_model, open_model
    from dialogflowlite.components.nlu.pipeline import NluPipeline
    from dialogflowlite.io.loader import load_project

    if nlu_file is not None:
        test_data = load_nlu_data(resolve_in_project(nlu_file, root), root)
    else:
        test_data = load_project(root, strict=False).check_test_files().test_nlu
        if not test_data.intent_examples:
            raise ProjectNotFoundError(
                f"no NLU test data: {root / 'tests'} has no `nlu:` examples",
                hint="pass --nlu FILE, add NLU examples under tests/, or use --cross-validation",
            )
    location = resolve_in_project(model_path, root) if model_path is not None else root / "models"
    model_file = latest_model(location)
    if model_file is None:
        raise ModelLoadError(
            f"no trained model at {location}",
            hint="train one with `dialogflowlite train`, or pass --model PATH",
        )
    with open_model(model_file) as archive:
        pipeline = NluPipeline.load(archive)
        trained = (archive.manifest.sections.get("nlu") or {}).get("intents")
    _warn_about_unknown_intents(test_data, trained, model_file)
    logger.info("evaluating %s on %d messages", model_file, len(test_data.examples))
    return evaluate_nlu(pipeline, test_data, batch_size=batch_size)
