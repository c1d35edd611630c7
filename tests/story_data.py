"""Stories, rules, NLU examples and markers that tests in several folders train on,
validate or evaluate, written once.

Each story, rule or NLU constant is one unindented entry of a ``stories:``, ``rules:``
or ``nlu:`` list; :func:`stories_yaml`, :func:`rules_yaml` and :func:`nlu_yaml` put
entries together into a file; :func:`domain_yaml` writes a domain of intents
and one-text responses.
The domain must know what an entry names: ``greet`` and ``utter_greet``,
``thanks`` and ``utter_noworries``; the long and short stories also
``inform``, ``goodbye`` and ``utter_goodbye``.
"""

from __future__ import annotations

import json

from dialogflowlite.shared.stories import ActionStep, ActiveLoopStep, UserStep

VERSION = 'version: "3.1"\n'

#: the smallest domain :data:`GREET_STORY` and :data:`GREET_RULE` can be trained on
GREET_DOMAIN = VERSION + """\
intents: [greet]
responses:
  utter_greet: [{text: hi}]
"""

GREET_STORY = """\
- story: greet
  steps:
  - intent: greet
  - action: utter_greet
"""

THANKS_STORY = """\
- story: thanks
  steps:
  - intent: thanks
  - action: utter_noworries
"""

GREET_RULE = """\
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
"""

#: the same last turn as :data:`SHORT_STORY` (``goodbye`` after ``utter_greet``)
#: answered otherwise; only the turn before (``inform``, not ``greet``) tells them apart
LONG_STORY = """\
- story: long
  steps:
  - intent: inform
  - action: utter_greet
  - intent: goodbye
  - action: utter_goodbye
"""

#: contradicts :data:`LONG_STORY` for a policy that sees only the last turn
#: (max_history 1), not for one that sees two or more
SHORT_STORY = """\
- story: short
  steps:
  - intent: greet
  - action: utter_greet
  - intent: goodbye
  - action: utter_greet
"""


#: four ways to say hello, the first entry of several tests' NLU files
GREET_EXAMPLES = """\
- intent: greet
  examples: |
    - hi
    - hello
    - hey there
    - good morning
"""

#: ``New York`` for two other names of the city
NEW_YORK_SYNONYM = """\
- synonym: New York
  examples: |
    - NYC
    - the big apple
"""

#: five digits, a zip code
ZIPCODE_REGEX = """\
- regex: zipcode
  examples: |
    - \\d{5}
"""

#: a lookup table of two cities
CITY_LOOKUP = """\
- lookup: city
  examples: |
    - Berlin
    - Oslo
"""

#: a markers file (indented, to be dedented) for a mood bot: one marker for a mood
#: expressed, one for a cheer-up that did not help (the user denies it helped)
MOOD_MARKERS = """\
    marker_mood_expressed:
      or:
        - intent: mood_unhappy
        - intent: mood_great
    marker_cheer_up_failed:
      seq:
        - intent: mood_unhappy
        - action: utter_cheer_up
        - action: utter_did_that_help
        - intent: deny
    """


def domain_yaml(intents: list[str], **responses: str) -> str:
    """A domain file declaring ``intents`` and the responses named by the keywords,
    each with the one text given."""
    lines = [VERSION, f"intents: [{', '.join(intents)}]\n"]
    if responses:
        lines.append("responses:\n")
        # a JSON string is a YAML string: any text stays text
        lines += [f"  {name}: [{{text: {json.dumps(text, ensure_ascii=False)}}}]\n"
                  for name, text in responses.items()]
    return "".join(lines)


def stories_yaml(*entries: str) -> str:
    """A stories file holding ``entries`` in order."""
    return VERSION + "stories:\n" + "".join(entries)


def rules_yaml(*entries: str) -> str:
    """A rules file holding ``entries`` in order."""
    return VERSION + "rules:\n" + "".join(entries)


def nlu_yaml(*entries: str) -> str:
    """An NLU file holding ``entries`` in order."""
    return VERSION + "nlu:\n" + "".join(entries)


#: the first two turns of :data:`CITY_WEATHER_STORY`: a greeting, then the bot asks
#: for a city; steps only, to be put into a story of one's own
ASK_CITY_STEPS = """\
  - intent: greet
  - action: utter_greet
  - intent: ask_weather
  - action: utter_ask_city
"""

#: the last turn of :data:`CITY_WEATHER_STORY`: the user names Paris, the bot answers
INFORM_CITY_STEPS = """\
  - intent: inform
    entities: [{city: Paris}]
  - slot_was_set: [{city: Paris}]
  - action: utter_weather
"""

#: asks for the city, fills the ``city`` slot from the entity and answers (needs
#: ``ask_weather``, ``inform``, the ``city`` entity and slot, ``utter_ask_city``
#: and ``utter_weather`` besides the greeting)
CITY_WEATHER_STORY = "- story: weather\n  steps:\n" + ASK_CITY_STEPS + INFORM_CITY_STEPS


def step_labels(steps) -> list[str]:
    """Loaded story or rule steps as short labels to compare against: ``intent:greet``,
    ``action:utter_greet``, ``loop:some_form`` (``loop:None`` ends a loop); any other
    step by its class name (``SlotStep``)."""
    labels = []
    for step in steps:
        if isinstance(step, UserStep):
            labels.append(f"intent:{step.intent}")
        elif isinstance(step, ActionStep):
            labels.append(f"action:{step.name}")
        elif isinstance(step, ActiveLoopStep):
            labels.append(f"loop:{step.name}")
        else:
            labels.append(type(step).__name__)
    return labels
