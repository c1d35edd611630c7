"""Domains for the template tests: one intent, slots that custom actions fill, and the
responses under test (the ones several tests share are written here once)."""

from __future__ import annotations

#: a welcome that depends on the bool slot ``vip`` (the domain must declare it)
VIP_STATUS_RESPONSE = """\
  utter_status:
  - text: "Welcome back, valued guest."
    condition:
    - type: slot
      name: vip
      value: true
  - text: "Welcome."
"""

#: a plain variation and one only for the ``slack`` channel
CHANNEL_RESPONSE = """\
  utter_channel:
  - text: "plain"
  - text: "slack version"
    channel: slack
"""

#: one button, to be shown vertically
VERTICAL_BUTTONS_RESPONSE = """\
  utter_vertical:
  - text: "Which one?"
    button_type: vertical
    buttons:
    - title: "A"
      payload: /a
"""


def custom_slot_domain(slots: dict[str, str], responses: str) -> str:
    """A domain with the intent ``greet``, a slot of each given type (by name) filled
    by custom actions, and ``responses`` (indented entries), written last so that a
    test can append more of them or another section."""
    declared = "".join(f"  {name}:\n    type: {kind}\n    mappings: [{{type: custom}}]\n"
                       for name, kind in slots.items())
    return 'version: "3.1"\nintents: [greet]\nslots:\n' + declared + "responses:\n" + responses
