"""Stories and rules that tests in several folders train on or validate, written once.

Each constant is one unindented entry of a ``stories:`` or ``rules:`` list;
:func:`stories_yaml` and :func:`rules_yaml` put entries together into a file.
The domain must know what an entry names: ``greet`` and ``utter_greet``,
``thanks`` and ``utter_noworries``; the long and short stories also
``inform``, ``goodbye`` and ``utter_goodbye``.
"""

from __future__ import annotations

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


def stories_yaml(*entries: str) -> str:
    """A stories file holding ``entries`` in order."""
    return VERSION + "stories:\n" + "".join(entries)


def rules_yaml(*entries: str) -> str:
    """A rules file holding ``entries`` in order."""
    return VERSION + "rules:\n" + "".join(entries)

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
