"""The tiny keyword bot: two intents, two rules, no neural component.

Trains in a second, so tests about training itself (what is written, reused,
named) use it. Its larger variants (a city slot, a form, more intents) grow
out of the same pieces through :func:`domain`, :func:`nlu`, :func:`rules` and
:func:`stories_to_test`, so the greetings are written here once.
"""

from __future__ import annotations

from story_data import GREET_RULE, VERSION

GREET_BYE_RESPONSES = """\
  utter_greet: [{text: "Hello!"}]
  utter_bye: [{text: "Bye!"}]
"""

#: the city entity, read into a text slot that does not steer the conversation
CITY_SLOT = """\
entities: [city]
slots:
  city:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: city
"""

GREET_BYE_NLU = """\
- intent: greet
  examples: |
    - hello
    - hi
- intent: bye
  examples: |
    - bye
    - goodbye
"""

BYE_RULE = """\
- rule: bye
  steps:
  - intent: bye
  - action: utter_bye
"""

GREET_BYE_RULES = GREET_RULE + BYE_RULE

GREET_AND_LEAVE_STORY = """\
- story: greet and leave
  steps:
  - intent: greet
  - action: utter_greet
  - intent: bye
  - action: utter_bye
"""


def domain(*more_intents: str, city: bool = False, sections: str = "",
           responses: str = "") -> str:
    """The domain: greet and bye with their responses, grown by a variant.

    ``more_intents`` follow greet and bye; ``city`` adds :data:`CITY_SLOT`;
    ``sections`` (top-level YAML, e.g. ``forms:``) come before the responses;
    ``responses`` (indented entries) follow ``utter_greet`` and ``utter_bye``.
    """
    return (VERSION + f"intents: [{', '.join(['greet', 'bye', *more_intents])}]\n"
            + (CITY_SLOT if city else "") + sections
            + "responses:\n" + GREET_BYE_RESPONSES + responses)


def nlu(more: str = "") -> str:
    """The greet and bye examples, then ``more`` NLU entries."""
    return VERSION + "nlu:\n" + GREET_BYE_NLU + more


def rules(more: str = "") -> str:
    """The greet and bye rules, then ``more`` rules."""
    return VERSION + "rules:\n" + GREET_BYE_RULES + more


def stories_to_test(more: str = "") -> str:
    """The test story every variant passes (greet, then leave), then ``more`` stories."""
    return VERSION + "stories:\n" + GREET_AND_LEAVE_STORY + more

DOMAIN = domain()

NLU = nlu()

RULES = rules()

CONFIG = """
language: en
pipeline:
- name: WhitespaceTokenizer
- name: KeywordIntentClassifier
policies:
- name: RulePolicy
"""

#: the variants with a city: found by a regex, no intent classifier; rules and
#: memorised stories answer
REGEX_CONFIG = """
language: en
pipeline:
- name: WhitespaceTokenizer
- name: RegexEntityExtractor
policies:
- name: MemoizationPolicy
- name: RulePolicy
"""
