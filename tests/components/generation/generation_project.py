"""A small restaurant project for the generation tests, a tiny generator config, and a
tracker with slots set."""

from __future__ import annotations

import json
from pathlib import Path

DOMAIN = """
version: "3.1"
intents: [greet, book, thank, faq]
entities: [city, cuisine]
slots:
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
  cuisine:
    type: text
    mappings: [{type: from_entity, entity: cuisine}]
responses:
  utter_greet:
  - text: "Hello! How can I help?"
  utter_confirm:
  - text: "Booking a {cuisine} table in {city}."
  utter_thanks:
  - text: "You are welcome."
  utter_faq/hours:
  - text: "We open at nine."
"""

NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello there
- intent: book
  examples: |
    - book a [thai](cuisine) table in [Paris](city)
    - I want [sushi](cuisine) in [Rome](city)
- intent: thank
  examples: |
    - thanks
- intent: faq/hours
  examples: |
    - when do you open?
    - what are your hours
"""

STORIES = """
version: "3.1"
stories:
- story: book a table
  steps:
  - intent: greet
  - action: utter_greet
  - intent: book
    entities:
    - cuisine: greek
    - city: Oslo
  - slot_was_set:
    - cuisine: greek
    - city: Oslo
  - action: utter_confirm
  - intent: thank
  - action: utter_thanks
- story: end to end
  steps:
  - user: "anyone there?"
  - bot: "Yes, I am here."
"""

CITIES = ["Paris", "Rome", "Oslo", "Lima", "Cairo", "Quito", "Tokyo", "Dakar", "Seoul", "Perth"]
CUISINES = ["thai", "greek", "sushi", "tapas", "curry", "pasta", "ramen", "pizza", "tacos",
            "dim sum"]


def offer_pairs() -> str:
    """act2text pairs for an action without a template (``utter_offer``)."""
    lines = []
    for index, (city, cuisine) in enumerate(zip(CITIES, CUISINES, strict=True)):
        text = (f"How about a {cuisine} place in {city}?" if index % 2 == 0
                else f"There is a nice {cuisine} restaurant in {city}.")
        lines.append(json.dumps({"act": "utter_offer", "slots": {"cuisine": cuisine,
                                                                   "city": city},
                                 "response": text}))
    lines.append(json.dumps({"question": "do you deliver?", "answer": "No, we do not deliver.",
                             "intent": "faq"}))
    return "\n".join(lines) + "\n"


def tiny_config(**extra) -> dict:
    config = {
        "hidden_size": 64, "encoder_layers": 1, "decoder_layers": 1, "heads": 2, "ff_size": 128,
        "dropout": 0.0, "vocab_size": 300, "epochs": 80, "batch_size": 8,
        "learning_rate": 5e-3, "warmup_steps": 10, "label_smoothing": 0.0,
        "threshold": -3.0, "decoding": {"beam_size": 3, "max_length": 24},
    }
    config.update(extra)
    return config


def config_yaml(**extra) -> str:
    settings = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in tiny_config(**extra).items())
    head = 'version: "3.1"\nlanguage: en\ngenerators:\n- name: NeuralResponseGenerator\n'
    return f"{head}{settings}\n"


def write_generation_project(root: Path, **config_extra) -> Path:
    """Write the project into ``root`` (the pair file goes to data/pairs/offers.jsonl)."""
    files = {"domain.yml": DOMAIN, "data/nlu.yml": NLU, "data/stories.yml": STORIES,
             "config.yml": config_yaml(**config_extra), "data/pairs/offers.jsonl": offer_pairs()}
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    return root


def tracker_for(project, **slots):
    """A tracker of ``project``'s domain with ``slots`` set."""
    from dialogflowlite.shared.events import SlotSet
    from dialogflowlite.shared.tracker import DialogueStateTracker

    tracker = DialogueStateTracker.for_domain("u1", project.domain)
    for name, value in slots.items():
        tracker.update(SlotSet(name=name, value=value))
    return tracker


def reload_and_compare(generator, project, folder: Path, *, nll_tolerance: float = 1e-6):
    """Save ``generator`` in ``folder``, load it again and check that the copy writes the
    same reply for ``utter_offer`` and gives the same NLL (within ``nll_tolerance``,
    relative); returns the copy."""
    import pytest

    from dialogflowlite.artifact import ComponentStorage
    from dialogflowlite.components.generation.data import project_examples
    from dialogflowlite.components.generation.neural import NeuralResponseGenerator

    storage = ComponentStorage(folder)
    generator.persist(storage)
    loaded = NeuralResponseGenerator.load(generator.config, storage)
    tracker = tracker_for(project, city="Cairo", cuisine="curry")
    assert (loaded.generate_for_action("utter_offer", tracker).text
            == generator.generate_for_action("utter_offer", tracker).text)
    examples = project_examples(project)[:5]
    assert loaded.token_nll(examples) == pytest.approx(generator.token_nll(examples),
                                                      rel=nll_tolerance)
    return loaded
