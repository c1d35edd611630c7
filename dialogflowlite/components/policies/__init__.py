"""Dialogue policies: what the bot does next.

* :mod:`.states` — a conversation as the states policies see;
* :mod:`.dialogues` — stories and rules as training states and actions;
* :mod:`.memoization`, :mod:`.rule`, :mod:`.transformer_policy` — the policies;
* :mod:`.ensemble` — asking every policy and choosing one action;
* :mod:`.training` — the ``core`` section of a model (:class:`CoreSection`);
* :mod:`.rasa_compat` — Rasa's policy names and settings;
* :mod:`.replay` — replaying stories against trained policies.
"""
