"""The files ``test nlu`` writes for the response selector, and how ``--successes``,
``--no-errors`` and ``--no-plot`` choose among them (the evaluation is scripted:
no model is trained or loaded)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dialogflowlite.cli import test as cli_test
from dialogflowlite.cli.test import nlu_test
from dialogflowlite.evaluation import nlu as nlu_evaluation
from dialogflowlite.evaluation.nlu import NluEvaluation, PredictionRecord


def _record(text: str, key: str, predicted: str) -> PredictionRecord:
    return PredictionRecord(text=text, intent="faq", intent_prediction="faq", confidence=0.9,
                            entities=[], predicted_entities=[], retrieval_intent=key,
                            retrieval_prediction=predicted, retrieval_confidence=0.6)


@pytest.fixture
def scripted_evaluation(monkeypatch) -> NluEvaluation:
    # the model is looked for first, as in Rasa; the scripted evaluation needs none
    monkeypatch.setattr(cli_test, "model_to_test",
                        lambda root, model, section=None: root / "models")
    evaluation = NluEvaluation([_record("when do you open", "faq/ask_hours", "faq/ask_hours"),
                                _record("how much is it", "faq/ask_price", "faq/ask_hours")])

    def run_nlu_test(root, model, nlu, output, echo=print):
        evaluation.write(output)
        return evaluation

    monkeypatch.setattr(nlu_evaluation, "run_nlu_test", run_nlu_test)
    return evaluation


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("response_selection")}


def test_response_selection_files_are_rasas(scripted_evaluation, tmp_path: Path) -> None:
    out = tmp_path / "results"
    assert nlu_test(tmp_path, out=out, successes=True, echo=io.StringIO()) == 0
    assert _names(out) == {"response_selection_report.json", "response_selection_errors.json",
                           "response_selection_successes.json",
                           "response_selection_confusion_matrix.png",
                           "response_selection_histogram.png"}
    successes = json.loads((out / "response_selection_successes.json").read_text())
    assert [s["text"] for s in successes] == ["when do you open"]
    errors = json.loads((out / "response_selection_errors.json").read_text())
    assert [e["intent_response_key_prediction"]["name"] for e in errors] == ["faq/ask_hours"]


def test_no_plot_and_no_errors_leave_out_the_response_selection_files(
        scripted_evaluation, tmp_path: Path) -> None:
    out = tmp_path / "results"
    nlu_test(tmp_path, out=out, errors=False, plots=False, echo=io.StringIO())
    assert _names(out) == {"response_selection_report.json"}

