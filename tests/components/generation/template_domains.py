"""Domains for the template tests: one intent, slots that custom actions fill, and the
responses under test."""

from __future__ import annotations


def custom_slot_domain(slots: dict[str, str], responses: str) -> str:
    """A domain with the intent ``greet``, a slot of each given type (by name) filled
    by custom actions, and ``responses`` (indented entries), written last so that a
    test can append more of them or another section."""
    declared = "".join(f"  {name}:\n    type: {kind}\n    mappings: [{{type: custom}}]\n"
                       for name, kind in slots.items())
    return 'version: "3.1"\nintents: [greet]\nslots:\n' + declared + "responses:\n" + responses
