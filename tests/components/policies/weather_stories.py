"""Stories and rules of the policy tests' weather domain (``DOMAIN`` in conftest.py).

Each constant is one unindented entry of a ``stories:`` or ``rules:`` list, to
be put into a file with ``story_data.stories_yaml`` or ``story_data.rules_yaml``;
the greeting entries every domain has are in ``story_data``.
"""

from __future__ import annotations

WEATHER_STORY = """\
- story: weather
  steps:
  - intent: greet
  - action: utter_greet
  - intent: ask_weather
  - action: utter_weather
"""

GOODBYE_AFTER_THANKS_STORY = """\
- story: goodbye after thanks
  steps:
  - intent: thanks
  - action: utter_noworries
  - intent: bye
  - action: utter_bye
"""

#: contradicts any rule that answers greet with utter_greet
GREET_WITH_A_WELCOME_STORY = """\
- story: greet with a welcome
  steps:
  - intent: greet
  - action: utter_welcome
"""

START_THE_FORM_RULE = """\
- rule: start the form
  steps:
  - intent: ask_weather
  - action: weather_form
  - active_loop: weather_form
"""

#: steps only: the form starts, the user stops it (its action must have been
#: rejected) and the bot asks whether to go on
STOP_THE_FORM_STEPS = """\
  - intent: ask_weather
  - action: weather_form
  - active_loop: weather_form
  - intent: stop
  - action: utter_ask_continue
"""

#: the user stops the form (its action must have been rejected), then carries on
#: with it; a test checks that utter_ask_continue stands on line 9 of a stories
#: file that starts with this story
STOP_THE_FORM_THEN_GO_ON_STORY = ("- story: stop the form, then go on\n  steps:\n"
                                  + STOP_THE_FORM_STEPS + """\
  - intent: affirm
  - action: weather_form
  - active_loop: weather_form
""")
