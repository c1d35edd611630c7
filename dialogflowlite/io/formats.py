"""What differs between project format versions, and which keys each section knows.

Format "2.0" and "3.x" (3.0, 3.1, ...) projects load unchanged. The
differences that matter here:

* slots: 2.0 fills a slot from the entity of the same name (``auto_fill``,
  on by default); 3.x fills slots only through explicit ``mappings``;
* forms: 2.0 writes slot mappings inside the form (``required_slots`` as a
  mapping of slot -> mappings); 3.x lists slot names and keeps mappings on the
  slots, with ``conditions`` naming the form;
* slot types: 2.0 also accepts class paths such as
  ``rasa.shared.core.slots.TextSlot``.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable

SUPPORTED_MAJOR_VERSIONS = (2, 3)
LATEST_VERSION = "3.1"

DOMAIN_KEYS = (
    "version",
    "intents",
    "entities",
    "slots",
    "responses",
    "actions",
    "forms",
    "session_config",
    "config",
    "e2e_actions",
)
DATA_KEYS = ("version", "nlu", "stories", "rules", "responses")
CONFIG_KEYS = (
    "version",
    "recipe",
    "language",
    "pipeline",
    "policies",
    "assistant_id",
    "generators",
    "importers",
    "imports",
    "data",
    "train",
)
INTENT_KEYS = ("use_entities", "ignore_entities", "triggers", "is_retrieval_intent")
ENTITY_KEYS = ("roles", "groups", "influence_conversation")
SLOT_KEYS = (
    "type",
    "initial_value",
    "influence_conversation",
    "values",
    "min_value",
    "max_value",
    "mappings",
    "auto_fill",
)
MAPPING_KEYS = (
    "type",
    "entity",
    "role",
    "group",
    "intent",
    "not_intent",
    "value",
    "conditions",
    "action",
)
CONDITION_KEYS = ("active_loop", "requested_slot")
FORM_KEYS = ("required_slots", "ignored_intents")
RESPONSE_KEYS = (
    "text",
    "image",
    "buttons",
    "quick_replies",
    "custom",
    "attachment",
    "elements",
    "channel",
    "condition",
    "metadata",
    "id",
    "button_type",
)
SESSION_CONFIG_KEYS = ("session_expiration_time", "carry_over_slots_to_new_session")
DOMAIN_CONFIG_KEYS = ("store_entities_as_slots",)
NLU_ITEM_KEYS = {
    "intent": ("intent", "examples", "metadata"),
    "synonym": ("synonym", "examples"),
    "regex": ("regex", "examples"),
    "lookup": ("lookup", "examples"),
}
EXAMPLE_KEYS = ("text", "metadata")
BUTTON_KEYS = ("title", "payload", "type", "url")
ACTION_KEYS = ("send_domain",)
STORY_ENTITY_KEYS = ("entity", "value", "role", "group")
STORY_KEYS = ("story", "steps", "metadata")
RULE_KEYS = ("rule", "steps", "condition", "conversation_start", "wait_for_user_input", "metadata")
STEP_KEYS = (
    "intent",
    "user",
    "entities",
    "action",
    "bot",
    "slot_was_set",
    "active_loop",
    "checkpoint",
    "or",
    "metadata",
)
#: the step keys that say what kind of step it is (one of them is needed)
STEP_KIND_KEYS = tuple(key for key in STEP_KEYS if key not in ("entities", "metadata"))

#: 2.0-style slot class paths (and short class names) -> slot type
SLOT_TYPE_ALIASES = {
    "rasa.shared.core.slots.TextSlot": "text",
    "rasa.shared.core.slots.BooleanSlot": "bool",
    "rasa.shared.core.slots.CategoricalSlot": "categorical",
    "rasa.shared.core.slots.FloatSlot": "float",
    "rasa.shared.core.slots.ListSlot": "list",
    "rasa.shared.core.slots.AnySlot": "any",
    "rasa.shared.core.slots.UnfeaturizedSlot": "any",
    "TextSlot": "text",
    "BooleanSlot": "bool",
    "CategoricalSlot": "categorical",
    "FloatSlot": "float",
    "ListSlot": "list",
    "AnySlot": "any",
    "unfeaturized": "any",
    "boolean": "bool",
    "str": "text",
    "string": "text",
}


def major_version(version: object) -> int | None:
    """The major format version of a ``version:`` value ("2.0" -> 2), or None if unreadable."""
    if version is None:
        return None
    text = str(version).strip().strip('"').strip("'")
    head = text.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def is_supported_version(version: object) -> bool:
    return major_version(version) in SUPPORTED_MAJOR_VERSIONS


def closest(word: str, options: Iterable[str], n: int = 3) -> list[str]:
    """The options most like ``word`` (for did-you-mean hints); when none is, those most
    like it in other capitals (``EN`` for ``en``, ``REST`` for ``rest``)."""
    options = list(options)
    close = difflib.get_close_matches(str(word), options, n=n, cutoff=0.6)
    if close:
        return close
    # difflib compares characters exactly: "EN" and "en" share none
    folded = {str(option).casefold(): option for option in reversed(options)}
    close = difflib.get_close_matches(str(word).casefold(), list(folded), n=n, cutoff=0.6)
    return [folded[match] for match in close]


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """A hint naming the closest option, or None when nothing is close. An option that
    reads the same but is encoded otherwise (``grüßen`` with a combining diaeresis) is
    said to be so: both would print alike, and "did you mean" would name the word
    itself."""
    options = list(options)
    word = str(word)  # a YAML key may be a number
    composed = unicodedata.normalize("NFC", word)
    alike = [o for o in options
             if str(o) != word and unicodedata.normalize("NFC", str(o)) == composed]
    if alike:
        return (f"'{alike[0]}' reads the same but is encoded otherwise (one of the two "
                "writes an accent as a separate combining mark, as some keyboards and "
                "pasted text do): type both the same way")
    matches = closest(word, options)
    if not matches:
        return None
    return "did you mean " + " or ".join(f"'{m}'" for m in matches) + "?"


#: words that YAML 1.2 (which the loader reads, as Rasa does) takes as text but that
#: people write as true or false
FLAG_WORDS = {"true": True, "yes": True, "on": True, "y": True,
              "false": False, "no": False, "off": False, "n": False}


def flag_meaning(value: object) -> bool | None:
    """``value`` of a true/false setting as a bool: a YAML boolean, or one of
    :data:`FLAG_WORDS` as text; None for anything else (Python's ``bool()`` would
    call any non-empty text true, ``"no"`` included)."""
    if isinstance(value, bool):
        return value
    return FLAG_WORDS.get(str(value).strip().lower())
