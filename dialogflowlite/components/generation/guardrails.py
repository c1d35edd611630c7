"""Guardrails: whether a generated reply may be sent.

A reply is sent only when

* the act has a value for every slot its training pairs always had
  (:func:`act_check`, before anything is decoded): without one, the model
  would leave a hole where the value goes;
* the model is sure enough: its length-normalised log-probability (mean
  log-probability per token, 0 = certain) is a number and at least
  ``threshold``;
* it contains no blocked word or phrase (whole words, any case);
* every slot value of the act is copied exactly: each required placeholder
  is in the delexicalised reply, so the relexicalised reply holds the exact
  value, and a value that has no placeholder (more values than the model
  has placeholders for) is in the reply word for word; a dropped value is
  an error;
* it invents no value: no placeholder without a value is left in it;
* it is not empty, and the model ended it (a reply cut at ``max_length`` is
  not sent).

Otherwise the responder sends the template (or the fallback) instead.

A free reply (context -> response, ``action_generate``) has no act: no value
is required in it, as nothing says which of the values the conversation
named the reply should repeat ("You're welcome!" repeats none). A value the
model writes through its placeholder becomes the exact value, and a
placeholder without a value is rejected. Text that only resembles a value (``Berln``
for ``Berlin``, ``York`` for ``New York``, another size than the slot's) is
not looked for: telling such a near-copy from an ordinary word takes a
threshold of similarity and a slot's list of possible values, and would
reject replies that merely share a word with a value.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dialogflowlite.components.generation.data import GenerationExample, has_value
from dialogflowlite.components.generation.delex import PLACEHOLDER_PATTERN, Prepared, find_value
from dialogflowlite.errors import ComponentConfigError


@dataclass
class Verdict:
    """Whether a reply passed, and if not, why."""

    accepted: bool
    reason: str = ""
    #: what is lacking: placeholders or values the reply drops, or the act's unset slots
    missing: list[str] = field(default_factory=list)
    #: placeholders in the reply that have no value
    invented: list[str] = field(default_factory=list)


#: scripts written without spaces between words: a phrase of them is found inside
#: longer text ("笨蛋" in "你是笨蛋吗"), where a word of a spaced script must stand alone
_UNSPACED_SCRIPTS = ("CJK ", "HIRAGANA", "KATAKANA", "HALFWIDTH KATAKANA", "THAI", "LAO",
                     "KHMER", "MYANMAR", "TIBETAN")


def _written_without_spaces(character: str) -> bool:
    return unicodedata.name(character, "").startswith(_UNSPACED_SCRIPTS)


def _comparable(text: str) -> str:
    """``text`` as the blocklist compares it: compatibility forms folded (fullwidth
    ``ｄａｍｎ``, the ligature ``ﬁ``) and invisible format characters (zero-width spaces
    and joiners, soft hyphens) dropped, so a reply that reads as a blocked word is one."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(c for c in folded if unicodedata.category(c) != "Cf")


def _phrase_pattern(phrase: str) -> str:
    """``phrase`` as a regex that matches it as a whole word where its script has words."""
    start = "" if _written_without_spaces(phrase[0]) else r"(?<!\w)"
    end = "" if _written_without_spaces(phrase[-1]) else r"(?!\w)"
    return f"{start}{re.escape(phrase)}{end}"


class Blocklist:
    """Words and phrases a generated reply must never contain (whole words, any case).

    A phrase in a script written without spaces (Chinese, Japanese, Thai, ...)
    is found anywhere in a reply, as such a script has no word boundaries to
    look for. Text that only looks different (fullwidth letters, ligatures,
    zero-width characters inside a word) still matches.
    """

    def __init__(self, phrases: Iterable[str] = ()) -> None:
        self.phrases = [p.strip() for p in phrases if p and p.strip()]
        self._pattern = None
        comparable = [c for c in (_comparable(p).strip() for p in self.phrases) if c]
        if comparable:
            alternatives = "|".join(_phrase_pattern(p) for p in sorted(comparable, key=len,
                                                                         reverse=True))
            self._pattern = re.compile(alternatives, re.IGNORECASE)

    @classmethod
    def from_file(cls, path: str | Path, extra: Iterable[str] = ()) -> Blocklist:
        """Phrases from a text file, one per line (``#`` starts a comment), plus ``extra``."""
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise ComponentConfigError(f"blocklist_file {path} cannot be read: {reason}",
                                       hint="give a UTF-8 text file with one phrase per "
                                            "line") from e
        phrases = [line.split("#", 1)[0].strip() for line in lines]
        return cls([*phrases, *extra])

    def find(self, text: str) -> str | None:
        """The first blocked phrase in ``text`` (as compared: folded, without invisible
        characters), or None."""
        if self._pattern is None:
            return None
        match = self._pattern.search(_comparable(text))
        return match.group(0) if match else None


def act_check(act: str, needed: Iterable[str], example: GenerationExample) -> Verdict:
    """Whether the act ``example`` has a value for every slot in ``needed``.

    ``needed`` are the slots every training pair of ``act`` had: a reply to
    the act without one of them was never learnt, and the model writes the
    sentence it knows with a hole where the value goes ("a table in ?").
    """
    carried = {item.slot for item in example.acts if item.slot and has_value(item.value)}
    unset = [slot for slot in needed if slot not in carried]
    if unset:
        return Verdict(False, f"the act {act} has no value for the slot(s) {', '.join(unset)}, "
                       "which every pair it was learnt from had", missing=unset)
    return Verdict(True)


def slot_check(delexicalised: str, prepared: Prepared) -> Verdict:
    """Check the copying of slot values on the reply before the values are put back."""
    found = set(PLACEHOLDER_PATTERN.findall(delexicalised))
    missing = [p for p in prepared.required if p not in found]
    invented = sorted(p for p in found if p not in prepared.values)
    if missing:
        values = ", ".join(repr(prepared.values[p]) for p in missing)
        return Verdict(False, f"the reply drops the slot value(s) {values}", missing, invented)
    # values beyond the placeholders the model has stay text in the act: they must be
    # written as they are
    dropped = [value for value in prepared.verbatim if find_value(delexicalised, value) is None]
    if dropped:
        values = ", ".join(repr(value) for value in dropped)
        return Verdict(False, f"the reply drops the slot value(s) {values}", dropped, invented)
    if invented:
        return Verdict(False, f"the reply has placeholder(s) {', '.join(invented)} with no "
                       "value", missing, invented)
    return Verdict(True)


def judge(delexicalised: str, final_text: str, score: float, prepared: Prepared, *,
          threshold: float, blocklist: Blocklist, finished: bool = True) -> Verdict:
    """All guardrails, in order: content, an ending, slot values, blocklist, score.

    ``finished`` says whether the model ended the reply; one cut at
    ``max_length`` may stop in the middle of a word or a sentence.
    """
    if not final_text.strip():
        return Verdict(False, "the reply is empty")
    if not finished:
        return Verdict(False, "the reply did not end within max_length tokens")
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
    if math.isnan(score):
        # a NaN compares false with everything, so `score < threshold` would let it through
        return Verdict(False, "the score is not a number (the model's output is broken)")
    if score < threshold:
        return Verdict(False, f"score {score:.3f} is below the threshold {threshold}")
    return Verdict(True)
