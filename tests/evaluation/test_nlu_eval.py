from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from dialogflowlite.components.base import NluComponent
from dialogflowlite.components.nlu.pipeline import NluPipeline
from dialogflowlite.errors import ModelLoadError, ProjectNotFoundError, TrainingError
from dialogflowlite.evaluation.nlu import (
    CrossValidationResult,
    NluEvaluation,
    evaluate_nlu,
    run_nlu_test,
    stratified_folds,
)
from dialogflowlite.evaluation.nlu_metrics import classification_report, span_report
from dialogflowlite.io.config_reader import ComponentConfig
from dialogflowlite.shared.message import Entity, IntentPrediction, Message
from dialogflowlite.shared.training_data import TrainingData, parse_annotated_text
from dialogflowlite.training.trainer import TrainOptions, train


def _tiny_nlu():
    path = Path(__file__).resolve().parents[1] / "components" / "nlu" / "tiny_nlu.py"
    spec = importlib.util.spec_from_file_location("tiny_nlu_for_evaluation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ScriptedClassifier(NluComponent):
    """Answers what its ``script`` says for each text (fixed predictions for report tests)."""

    name = "ScriptedClassifier"
    kind = "intent_classifier"
    provides = ("intent", "entities")
    defaults: ClassVar[dict[str, Any]] = {"script": {}}

    def process(self, messages: list[Message]) -> None:
        for message in messages:
            answer = self.config["script"][message.text]
            message.set_intent([IntentPrediction(answer["intent"], answer["confidence"])])
            for entity, start, end, *extractor in answer.get("entities", []):
                message.entities.append(
                    Entity(
                        entity,
                        start,
                        end,
                        message.text[start:end],
                        extractor=extractor[0] if extractor else self.name,
                    )
                )
            if "response" in answer:
                message.response_selector = {
                    "faq": {"response": {"intent_response_key": answer["response"],
                                         "confidence": 0.7}}
                }


SCRIPT = {
    "hi": {"intent": "greet", "confidence": 0.9},
    "hello": {"intent": "greet", "confidence": 0.8},
    "bye": {"intent": "greet", "confidence": 0.6},
    "see you": {"intent": "goodbye", "confidence": 0.7},
    "book a table in Paris": {
        "intent": "book",
        "confidence": 0.95,
        "entities": [["city", 16, 21], ["time", 0, 4, "DucklingEntityExtractor"]],
    },
    "table for two in New York": {
        "intent": "book",
        "confidence": 0.5,
        "entities": [["number", 10, 13], ["city", 17, 20]],
    },
    "what is your name": {"intent": "faq", "confidence": 0.9, "response": "faq/ask_name"},
    "how old are you": {"intent": "faq", "confidence": 0.85, "response": "faq/ask_name"},
}

TEST_DATA = [
    ("hi", "greet"),
    ("hello", "greet"),
    ("bye", "goodbye"),
    ("see you", "goodbye"),
    ("book a table in [Paris](city)", "book"),
    ("table for [two](number) in [New York](city)", "book"),
    ("what is your name", "faq/ask_name"),
    ("how old are you", "faq/ask_age"),
]


class ScriptedPlugin:
    from dialogflowlite import hookimpl

    @hookimpl
    def dfl_register_components(self) -> list[type]:
        return [ScriptedClassifier]


def labelled_data() -> TrainingData:
    examples = []
    for annotated, intent in TEST_DATA:
        text, entities = parse_annotated_text(annotated)
        examples.append(Message(text, intent=intent, entities=entities))
    return TrainingData(examples)


@pytest.fixture
def scripted(register_plugin) -> NluPipeline:
    register_plugin(ScriptedPlugin(), "scripted")
    return NluPipeline.from_config(
        [
            ComponentConfig("WhitespaceTokenizer"),
            ComponentConfig("ScriptedClassifier", {"script": SCRIPT}),
        ]
    )


def approx(value: float) -> Any:
    return pytest.approx(value, abs=1e-9)


def test_intent_report_by_hand(scripted) -> None:
    report = evaluate_nlu(scripted, labelled_data()).intent_report
    assert report["greet"] == {
        "precision": approx(2 / 3),
        "recall": 1.0,
        "f1-score": approx(0.8),
        "support": 2,
        "confused_with": {},
    }
    assert report["goodbye"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1-score": approx(2 / 3),
        "support": 2,
        "confused_with": {"greet": 1},
    }
    assert report["book"]["f1-score"] == report["faq"]["f1-score"] == 1.0
    assert report["accuracy"] == 0.875
    assert report["micro avg"] == {
        "precision": 0.875,
        "recall": 0.875,
        "f1-score": 0.875,
        "support": 8,
    }
    assert report["macro avg"] == {
        "precision": approx(11 / 12),
        "recall": 0.875,
        "f1-score": approx((0.8 + 2 / 3 + 2) / 4),
        "support": 8,
    }
    # every intent has support 2, so weighting changes nothing
    assert report["weighted avg"]["f1-score"] == approx(report["macro avg"]["f1-score"])


def test_entity_report_counts_a_boundary_mismatch_as_wrong(scripted) -> None:
    evaluation = evaluate_nlu(scripted, labelled_data())
    report = evaluation.entity_report
    # "New" predicted for "New York": a false positive and a false negative
    assert report["city"] == {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2}
    assert report["number"] == {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 1}
    assert "time" not in report  # Duckling's entities are not scored
    assert report["micro avg"] == {
        "precision": approx(2 / 3),
        "recall": approx(2 / 3),
        "f1-score": approx(2 / 3),
        "support": 3,
    }
    assert report["macro avg"]["f1-score"] == 0.75
    assert report["weighted avg"]["precision"] == approx((0.5 * 2 + 1.0) / 3)
    assert evaluation.sentence_accuracy == 0.75
    assert evaluation.response_selection_report["accuracy"] == 0.5
    assert evaluation.response_selection_report["faq/ask_age"]["recall"] == 0.0
    [error] = evaluation.response_selection_errors()
    assert set(error) == {"text", "intent_response_key_target",
                          "intent_response_key_prediction"}  # Rasa's shape
    assert error["intent_response_key_target"] == "faq/ask_age"
    assert error["intent_response_key_prediction"]["confidence"] == 0.7


def test_span_labels_include_roles() -> None:
    report = span_report([[("city#role=from", 0, 4)]], [[("city", 0, 4)]])
    assert report["city"]["precision"] == 0.0
    assert report["city#role=from"]["recall"] == 0.0
    assert report["micro avg"]["f1-score"] == 0.0


def test_confused_with_takes_the_labels_rasa_takes() -> None:
    # Rasa looks at the three labels most often predicted for a label, itself among
    # them: two others, or three when it was predicted less often than they were
    # (it listed at most two here)
    expected = ["a"] * 9 + ["b"] * 3
    mostly_right = ["a"] * 5 + ["b", "b", "c", "d"] + ["b"] * 3
    assert classification_report(expected, mostly_right)["a"]["confused_with"] == {
        "b": 2, "c": 1}
    mostly_wrong = ["a"] + ["b"] * 3 + ["c"] * 3 + ["d"] * 2 + ["b"] * 3
    assert classification_report(expected, mostly_wrong)["a"]["confused_with"] == {
        "b": 3, "c": 3, "d": 2}


def test_classification_report_has_rows_for_the_expected_labels_only() -> None:
    # as Rasa's: "c" is never expected, so it is no row and no part of the averages
    report = classification_report(["a", "a", "b"], ["a", "c", "b"])
    assert list(report) == ["a", "b", "micro avg", "macro avg", "weighted avg", "accuracy"]
    assert report["a"] == {"precision": 1.0, "recall": 0.5, "f1-score": approx(2 / 3),
                           "support": 2, "confused_with": {"c": 1}}
    assert report["macro avg"]["recall"] == approx(0.75)  # (0.5 + 1) / 2
    assert report["macro avg"]["f1-score"] == approx((2 / 3 + 1) / 2)
    assert report["weighted avg"]["recall"] == approx(2 / 3)
    # micro: the predictions of the expected labels only
    assert report["micro avg"]["precision"] == 1.0
    assert report["accuracy"] == approx(2 / 3)


def test_written_results(scripted, tmp_path: Path) -> None:
    evaluation = evaluate_nlu(scripted, labelled_data())
    written = {p.name for p in evaluation.write(tmp_path / "results")}
    assert written == {
        "intent_report.json",
        "intent_errors.json",
        "entity_report.json",
        "entity_errors.json",
        "response_selection_report.json",
        "response_selection_errors.json",
        "intent_confusion_matrix.png",
        "intent_histogram.png",
        "response_selection_confusion_matrix.png",
        "response_selection_histogram.png",
        # the one extractor's own report too, as Rasa writes one for each
        "ScriptedClassifier_report.json",
        "ScriptedClassifier_errors.json",
    }
    folder = tmp_path / "results"
    for png in ("intent_confusion_matrix.png", "intent_histogram.png",
                "response_selection_confusion_matrix.png", "response_selection_histogram.png"):
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((folder / "intent_errors.json").read_text()) == [
        {
            "text": "bye",
            "intent": "goodbye",
            "intent_prediction": {"name": "greet", "confidence": 0.6},
        }
    ]
    errors = json.loads((folder / "entity_errors.json").read_text())
    assert [e["text"] for e in errors] == ["table for two in New York"]
    assert errors[0]["predicted_entities"][1]["text"] == "New"
    assert json.loads((folder / "intent_report.json").read_text()) == evaluation.intent_report
    table = evaluation.summary_table()
    assert "intent accuracy" in table and "0.875" in table
    assert "entity F1 (micro, CoNLL spans)" in table and "0.667" in table
    assert "response selection accuracy" in table and "0.500" in table


def test_successes_list_the_right_intents_and_response_keys(scripted, tmp_path: Path) -> None:
    evaluation = evaluate_nlu(scripted, labelled_data())
    written = evaluation.write_successes(tmp_path)
    assert [p.name for p in written] == ["intent_successes.json",
                                         "response_selection_successes.json"]
    intents = json.loads((tmp_path / "intent_successes.json").read_text())
    assert [s["text"] for s in intents] == [
        "hi", "hello", "see you", "book a table in Paris", "table for two in New York",
        "what is your name", "how old are you"]
    responses = json.loads((tmp_path / "response_selection_successes.json").read_text())
    assert responses == [{  # Rasa's shape, as the errors
        "text": "what is your name",
        "intent_response_key_target": "faq/ask_name",
        "intent_response_key_prediction": {"name": "faq/ask_name", "confidence": 0.7},
    }]
    selection = evaluation.to_rasa_json()["response_selection_evaluation"]
    assert [p["intent_response_key_prediction"] for p in selection["predictions"]] == [
        "faq/ask_name", "faq/ask_name"]


def test_without_retrieval_intents_there_is_nothing_of_response_selection(
        scripted, tmp_path: Path) -> None:
    plain = TrainingData([m for m in labelled_data().examples if m.base_intent != "faq"])
    evaluation = evaluate_nlu(scripted, plain)
    names = {p.name for p in evaluation.write(tmp_path) + evaluation.write_successes(tmp_path)}
    assert not any(name.startswith("response_selection") for name in names)


def test_without_a_response_selector_retrieval_intents_count_as_their_intent(
        scripted) -> None:
    # the script has no selector answer for this text: no selector, nothing to score
    data = TrainingData([Message("hi", intent="faq/ask_hi")])
    evaluation = evaluate_nlu(scripted, data)
    assert evaluation.response_selection_report is None
    assert "response selection" not in evaluation.summary_table()
    assert [(r.intent, r.intent_prediction) for r in evaluation.records] == [("faq", "greet")]


def test_stratified_folds_spread_every_intent() -> None:
    examples = [Message(f"a{i}", intent="a") for i in range(6)] + [
        Message(f"b{i}", intent="b") for i in range(3)
    ]
    folds = stratified_folds(examples, 3, seed=1)
    assert sorted(i for fold in folds for i in fold) == list(range(9))
    for fold in folds:
        assert sorted(examples[i].intent for i in fold) == ["a", "a", "b"]
    assert stratified_folds(examples, 3, seed=1) == folds
    with pytest.raises(TrainingError, match="at least 2 folds"):
        stratified_folds(examples, 1)
    with pytest.raises(TrainingError, match="10 folds of 9"):
        stratified_folds(examples, 10)


# ---------------------------------------------------------------- run_nlu_test on a project

DOMAIN = """
version: "3.1"
intents: [greet, goodbye, order]
entities: [food]
"""

NLU = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello there
      - hi
      - hello friend
  - intent: goodbye
    examples: |
      - bye bye
      - see you later
      - bye now
  - intent: order
    examples: |
      - one [pizza](food) please
      - I want [pasta](food)
      - [pizza](food) for me
"""

CONFIG = """
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: TinyClassifier
"""

TESTS = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
  - intent: order
    examples: |
      - [pasta](food) please
"""


@pytest.fixture
def nlu_project(register_plugin, write_project) -> Path:
    register_plugin(_tiny_nlu().TinyPlugin(), "tiny-nlu")
    return write_project(domain=DOMAIN, nlu=NLU, config=CONFIG, files={"tests/test_nlu.yml": TESTS})


def test_run_nlu_test_on_the_projects_test_data(nlu_project: Path) -> None:
    train(nlu_project, sections=("nlu",), options=TrainOptions(progress=False))
    lines: list[str] = []
    evaluation = run_nlu_test(nlu_project, echo=lines.append)
    assert [r.intent for r in evaluation.records] == ["greet", "order"]
    assert evaluation.intent_report["accuracy"] == 1.0
    assert evaluation.entity_report["food"]["f1-score"] == 1.0
    results = nlu_project / "results"
    assert (results / "intent_report.json").is_file()
    assert (results / "intent_histogram.png").is_file()
    assert "NLU evaluation on 2 messages" in lines[0]
    assert "response selection" not in lines[0]
    assert not (results / "response_selection_report.json").exists()

    other = nlu_project / "more.yml"
    other.write_text(TESTS.replace("- hello\n", "- hello\n      - hi there\n"))
    with_file = run_nlu_test(
        nlu_project, nlu_file=other, output_dir=nlu_project / "out", echo=lines.append
    )
    assert len(with_file.records) == 3
    assert (nlu_project / "out" / "entity_report.json").is_file()


def test_run_nlu_test_errors(nlu_project: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no trained model"):
        run_nlu_test(nlu_project, echo=lambda _: None)
    (nlu_project / "tests" / "test_nlu.yml").unlink()
    with pytest.raises(ProjectNotFoundError) as info:
        run_nlu_test(nlu_project, echo=lambda _: None)
    assert "--nlu FILE" in info.value.hint
    with pytest.raises(ProjectNotFoundError, match="does not exist"):
        run_nlu_test(nlu_project, nlu_file=tmp_path / "missing.yml", echo=lambda _: None)


def test_cross_validation(nlu_project: Path) -> None:
    lines: list[str] = []
    result = run_nlu_test(nlu_project, cross_validation=True, folds=3, echo=lines.append)
    assert len(result.folds) == 3
    assert len(result.evaluation.records) == 9  # every example tested once
    accuracies = [fold["intent_accuracy"] for fold in result.folds]
    assert result.mean["intent_accuracy"] == approx(sum(accuracies) / 3)
    mean = sum(accuracies) / 3
    assert result.std["intent_accuracy"] == approx(
        (sum((a - mean) ** 2 for a in accuracies) / 3) ** 0.5
    )
    saved = json.loads((nlu_project / "results" / "cross_validation.json").read_text())
    assert saved["folds"] == 3 and len(saved["per_fold"]) == 3
    assert saved["mean"]["intent_accuracy"] == approx(result.mean["intent_accuracy"])
    assert "mean ± std over folds" in lines[0]
    assert "±" in lines[0].splitlines()[3]
    assert (nlu_project / "results" / "intent_confusion_matrix.png").is_file()


def test_a_fold_without_retrieval_intents_is_left_out_of_their_mean() -> None:
    # a fold whose test part has no retrieval intent has no response selection accuracy
    folds = [{"intent_accuracy": 1.0, "response_selection_accuracy": 1.0},
             {"intent_accuracy": 0.5},
             {"intent_accuracy": 0.0, "response_selection_accuracy": 0.5}]
    result = CrossValidationResult(folds, NluEvaluation([]))
    assert result.mean == {"intent_accuracy": 0.5, "response_selection_accuracy": 0.75}
    assert result.std["response_selection_accuracy"] == approx(0.25)
    assert "0.750 ± 0.250" in result.summary_table()
    # and when the first fold has none, the others' accuracy is still reported
    assert CrossValidationResult(folds[1:], NluEvaluation([])).mean[
        "response_selection_accuracy"] == 0.5


def test_confusion_matrix_rows_are_expected_labels() -> None:
    from dialogflowlite.evaluation.nlu_metrics import confusion_matrix

    labels, matrix = confusion_matrix(["a", "a", "b", "b"], ["a", "b", "b", "c"])
    assert labels == ["a", "b", "c"]
    assert matrix == [[1, 1, 0], [0, 1, 1], [0, 0, 0]]


def test_a_file_that_holds_no_nlu_data_is_named(tmp_path: Path) -> None:
    from dialogflowlite.evaluation.nlu import load_nlu_data

    domain = tmp_path / "domain.yml"
    domain.write_text('version: "3.1"\nintents: [greet]\nresponses: {}\n', encoding="utf-8")
    model = tmp_path / "model.tar"
    model.write_bytes(b"\0" * 10)
    # each was "the test data has no labelled messages", naming neither
    with pytest.raises(ProjectNotFoundError) as info:
        load_nlu_data(domain)
    assert info.value.message == (f"{domain} holds no NLU data (its sections are `version:`, "
                                  "`intents:`, `responses:`, not `nlu:`)")
    with pytest.raises(ProjectNotFoundError, match="it is no YAML, Markdown or JSON NLU file"):
        load_nlu_data(model)
    (tmp_path / "nlu.yml").write_text('version: "3.1"\nnlu: []\n', encoding="utf-8")
    assert load_nlu_data(tmp_path).examples == []  # a folder with an (empty) NLU file


def test_intents_the_model_did_not_learn_are_named(caplog) -> None:
    from dialogflowlite.evaluation.nlu import _warn_about_unknown_intents

    data = TrainingData([Message("hi", intent="greet"), Message("a pizza", intent="order"),
                         Message("two pizzas", intent="order")])
    with caplog.at_level("WARNING"):
        _warn_about_unknown_intents(data, ["greet", "bye"], Path("models/m.tar"))
    assert ("the test data has intent(s) 'order', which model m.tar did not learn: each of "
            "their 2 messages counts as wrong") in caplog.text


def test_several_extractors_get_a_report_each_beside_the_pooled_one(tmp_path: Path) -> None:
    import json as json_module

    from dialogflowlite.evaluation.nlu import NluEvaluation, PredictionRecord

    text = "fly from Rome"
    gold = [Entity("city", 9, 13, "Rome", role="from")]
    record = PredictionRecord(
        text, "fly", "fly", 0.9, gold,
        [Entity("city", 9, 13, "Rome", role="from", extractor="DIETClassifier"),
         Entity("city", 9, 13, "Rome", extractor="RegexEntityExtractor")])
    written = {p.name for p in NluEvaluation([record]).write(tmp_path, plots=False)}
    # the pooled report alone counted the regex's plain `city` against the classifier's
    # right `city#role=from`, with nothing to tell the two apart
    assert {"entity_report.json", "DIETClassifier_report.json",
            "RegexEntityExtractor_report.json", "DIETClassifier_errors.json",
            "RegexEntityExtractor_errors.json"} <= written
    diet = json_module.loads((tmp_path / "DIETClassifier_report.json").read_text())
    regex = json_module.loads((tmp_path / "RegexEntityExtractor_report.json").read_text())
    assert diet["micro avg"]["f1-score"] == 1.0
    assert regex["micro avg"]["f1-score"] == 0.0
    assert json_module.loads((tmp_path / "DIETClassifier_errors.json").read_text()) == []
    # entities no component named: the pooled report is theirs, and nothing more
    single = PredictionRecord(text, "fly", "fly", 0.9, gold, gold)
    assert not any(p.name.startswith("None") or p.name == "unknown_report.json"
                   for p in NluEvaluation([single]).write(tmp_path / "one", plots=False))
