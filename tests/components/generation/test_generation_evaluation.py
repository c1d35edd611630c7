from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from generation_project import write_generation_project

from dialogflowlite.components.generation.data import (
    ACT2TEXT,
    CONTEXT2RESPONSE,
    USER,
    ActItem,
    GenerationExample,
    Turn,
)
from dialogflowlite.errors import ModelLoadError
from dialogflowlite.evaluation.generation import (
    evaluate_generator,
    expected_values,
    held_out_pairs,
    run_generation_test,
)
from dialogflowlite.training.trainer import TrainOptions, train


@dataclass
class Reply:
    text: str
    score: float = -0.1
    accepted: bool = True
    reason: str = ""


class EchoGenerator:
    """Replies from a fixed table; every reference token has log-probability log(1/2)."""

    name = "echo"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def generate(self, example, decoding=None):
        key = example.act_name or example.context[-1].text
        return Reply(self.answers[key], accepted=key != "q2")

    def token_nll(self, examples):
        import math

        tokens = sum(len(e.target.split()) for e in examples)
        return tokens * math.log(2), tokens


PAIRS = [
    GenerationExample(ACT2TEXT, "How about Sakoon in Fremont?",
                      acts=[ActItem("OFFER", "name", "Sakoon"),
                            ActItem("OFFER", "city", "Fremont")]),
    GenerationExample(CONTEXT2RESPONSE, "We open at nine.", context=[Turn(USER, "q2")]),
]


def test_evaluate_generator_scores_bleu_perplexity_and_slot_errors() -> None:
    generator = EchoGenerator({"OFFER": "How about Sakoon?", "q2": "We open at nine."})
    report = evaluate_generator(generator, PAIRS)
    assert report.pairs == 2
    assert report.perplexity == pytest.approx(2.0)
    assert report.slot_error_rate == pytest.approx(0.5)  # the first reply dropped Fremont
    assert report.slot_value_error_rate == pytest.approx(0.5)
    assert report.accepted_rate == pytest.approx(0.5)
    assert 0 < report.bleu < 100
    perfect = evaluate_generator(EchoGenerator({"OFFER": PAIRS[0].target, "q2": PAIRS[1].target}),
                                 PAIRS)
    assert perfect.bleu == pytest.approx(100.0) and perfect.slot_error_rate == 0.0
    assert "BLEU" in report.table() and "slot error rate" in report.table()
    # every reply is kept, in order, but only the samples go into a JSON report
    assert report.replies == ["How about Sakoon?", "We open at nine."]
    assert "replies" not in report.to_dict()


def test_expected_values_are_those_the_reference_copies() -> None:
    example = GenerationExample(ACT2TEXT, "Sakoon it is.", acts=[
        ActItem("OFFER", "name", "Sakoon"), ActItem("OFFER", "city", "Fremont"),
        ActItem("OFFER", "live_music", True)])
    assert expected_values(example) == ["Sakoon"]


def test_explicit_expected_values_must_match_the_pairs() -> None:
    with pytest.raises(ValueError):
        evaluate_generator(EchoGenerator({}), PAIRS, expected=[["x"]])


def test_dialogflowlite_test_reports_the_generator(tmp_path) -> None:
    root = write_generation_project(tmp_path / "project", epochs=2)
    (root / "tests").mkdir()
    (root / "tests" / "held_out.jsonl").write_text(
        json.dumps({"act": "utter_offer", "slots": {"cuisine": "pho", "city": "Hanoi"},
                    "response": "How about a pho place in Hanoi?"}) + "\n"
        + json.dumps({"question": "when do you open?", "answer": "We open at nine."}) + "\n")
    assert len(held_out_pairs(root)) == 2
    train(root, sections=("generation",), options=TrainOptions(progress=False))
    lines: list[str] = []
    assert run_generation_test(root, None, echo=lines.append) == 0  # the project's results/
    report = json.loads((root / "results" / "generation_report.json").read_text())
    assert report[0]["pairs"] == 2
    assert {"bleu", "perplexity", "slot_error_rate"} <= set(report[0])
    assert any("BLEU" in line for line in lines)


def test_generation_test_without_a_model(tmp_path) -> None:
    with pytest.raises(ModelLoadError):
        run_generation_test(tmp_path, None, "results", echo=lambda _: None)
