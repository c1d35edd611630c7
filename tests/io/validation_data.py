"""The clean training data both validation suites start from, in the nested layout.

Each list is indented under its key, as many projects write it; the tests append
steps and examples at that indentation and name the columns problems point to,
so these texts keep the layout. The flat-layout greeting entries are in
``story_data``.
"""

from __future__ import annotations

GREET_GOODBYE_NLU = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hi
      - hello
  - intent: goodbye
    examples: |
      - bye
"""

#: ``story_data.GREET_STORY`` as a whole stories file; appended steps stand at column 7
GREET_STORIES = """
version: "3.1"
stories:
  - story: greet
    steps:
      - intent: greet
      - action: utter_greet
"""
