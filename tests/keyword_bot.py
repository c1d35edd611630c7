"""The tiny keyword bot: two intents, two rules, no neural component.

Trains in a second, so tests about training itself (what is written, reused,
named) use it.
"""

DOMAIN = """
version: "3.1"
intents: [greet, bye]
responses:
  utter_greet: [{text: "Hello!"}]
  utter_bye: [{text: "Bye!"}]
"""

NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi
- intent: bye
  examples: |
    - bye
    - goodbye
"""

RULES = """
version: "3.1"
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: bye
  steps:
  - intent: bye
  - action: utter_bye
"""

CONFIG = """
language: en
pipeline:
- name: WhitespaceTokenizer
- name: KeywordIntentClassifier
policies:
- name: RulePolicy
"""
