"""Guardrails: whether a generated reply may be sent.

A reply is sent only when

* the model is sure enough: its length-normalised log-probability (mean
  log-probability per token, 0 = certain) is at least ``threshold``;
* it contains no blocked word or phrase (whole words, any case);
* every slot value of the act is copied exactly: each required placeholder
  is in the delexicalised reply, so the relexicalised reply holds the exact
  value; a dropped value is an error;
* it invents no value: no placeholder without a value is left in it;
* it is not empty.

Otherwise the responder sends the template (or the fallback) instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dialogflowlite.components.generation.delex import PLACEHOLDER_PATTERN, Prepared
from dialogflowlite.errors import ComponentConfigError


@dataclass
class Verdict:
    """Whether a reply passed, and if not, why."""

    accepted: bool
    reason: str = ""
    missing: list[str] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)


#: scripts written without spaces between words: a phrase of them is found inside
#: longer text ("笨蛋" in "你是笨蛋吗"), where a word of a spaced script must stand alone
_UNSPACED_SCRIPTS = ("CJK ", "HIRAGANA", "KATAKANA", "HALFWIDTH KATAKANA", "THAI", "LAO",
                     "KHMER", "MYANMAR", "TIBETAN")


def _written_without_spaces(character: str) -> bool:
    return unicodedata.name(character, "").startswith(_UNSPACED_SCRIPTS)


def _phrase_pattern(phrase: str) -> str:
    """``phrase`` as a regex that matches it as a whole word where its script has words."""
    start = "" if _written_without_spaces(phrase[0]) else r"(?<!\w)"
    end = "" if _written_without_spaces(phrase[-1]) else r"(?!\w)"
    return f"{start}{re.escape(phrase)}{end}"


class Blocklist:
    """Words and phrases a generated reply must never contain (whole words, any case).

    A phrase in a script written without spaces (Chinese, Japanese, Thai, ...)
    is found anywhere in a reply, as such a script has no word boundaries to
    look for.
    """

    def __init__(self, phrases: Iterable[str] = ()) -> None:
        self.phrases = [p.strip() for p in phrases if p and p.strip()]
        self._pattern = None
        if self.phrases:
            alternatives = "|".join(_phrase_pattern(p) for p in sorted(self.phrases, key=len,
                                                                         reverse=True))
            self._pattern = re.compile(alternatives, re.IGNORECASE)

    @classmethod
    def from_file(cls, path: str | Path, extra: Iterable[str] = ()) -> Blocklist:
        """Phrases from a text file, one per line (``#`` starts a comment), plus ``extra``."""
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise ComponentConfigError(f"blocklist_file {path} cannot be read: {e}",
                                       hint="give a text file with one phrase per line") from e
        phrases = [line.split("#", 1)[0].strip() for line in lines]
        return cls([*phrases, *extra])

    def find(self, text: str) -> str | None:
        """The first blocked phrase in ``text``, or None."""
        if self._pattern is None:
            return None
        match = self._pattern.search(text)
        return match.group(0) if match else None


def slot_check(delexicalised: str, prepared: Prepared) -> Verdict:
    """Check the copying of slot values on the reply before the values are put back."""
    found = set(PLACEHOLDER_PATTERN.findall(delexicalised))
    missing = [p for p in prepared.required if p not in found]
    invented = sorted(p for p in found if p not in prepared.values)
    if missing:
        values = ", ".join(repr(prepared.values[p]) for p in missing)
        return Verdict(False, f"the reply drops the slot value(s) {values}", missing, invented)
    if invented:
        return Verdict(False, f"the reply has placeholder(s) {', '.join(invented)} with no "
                       "value", missing, invented)
    return Verdict(True)


def judge(delexicalised: str, final_text: str, score: float, prepared: Prepared, *,
          threshold: float, blocklist: Blocklist) -> Verdict:
    """All guardrails, in order: content, slot values, blocklist, score."""
    if not final_text.strip():
        return Verdict(False, "the reply is empty")
    verdict = slot_check(delexicalised, prepared)
    if not verdict.accepted:
        return verdict
    for value in prepared.values.values():
        if value in final_text:
            continue
        # a placeholder was present, so its exact value must be there after relexicalising
        if any(p in delexicalised for p, v in prepared.values.items() if v == value):
            return Verdict(False, f"the slot value {value!r} was changed")
    blocked = blocklist.find(final_text)
    if blocked is not None:
        return Verdict(False, f"the reply contains the blocked phrase {blocked!r}")
    if score < threshold:
        return Verdict(False, f"score {score:.3f} is below the threshold {threshold}")
    return Verdict(True)
