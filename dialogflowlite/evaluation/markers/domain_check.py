"""Markers against the domain: every action, intent and slot they name must exist.

As in Rasa a name the domain lacks is an error: such a condition would
silently never apply. A retrieval intent ``faq/ask_x`` counts as known when
``faq`` is and the domain has its response ``utter_faq/ask_x``; the slots Rasa
adds to every domain (``requested_slot``, ``session_started_metadata``) count as
known too.
"""

from __future__ import annotations

from pathlib import Path

from dialogflowlite.errors import (
    DialogflowLiteError,
    Problem,
    ProjectNotFoundError,
    ProjectValidationError,
)
from dialogflowlite.evaluation.markers.model import Condition, MarkerDefinition
from dialogflowlite.io.formats import did_you_mean
from dialogflowlite.shared.domain import REQUESTED_SLOT, SESSION_START_METADATA_SLOT, Domain
from dialogflowlite.shared.message import RETRIEVAL_SEPARATOR

#: the code of every problem "a marker names something the domain lacks"
MARKER_DOMAIN_PROBLEM = "DFL151"

#: where each kind of name is declared in the domain
_SECTIONS = {"action": "`actions:` or `responses:`", "intent": "`intents:`", "slot": "`slots:`"}


def _known(kind: str, domain: Domain) -> list[str]:
    if kind == "action":
        return domain.action_names
    if kind == "intent":
        return domain.intent_names
    return [*domain.slots, *(s for s in (REQUESTED_SLOT, SESSION_START_METADATA_SLOT)
                             if s not in domain.slots)]


def _is_known(kind: str, name: str, known: list[str], domain: Domain) -> bool:
    if name in known:
        return True
    # a retrieval intent's sub-intent: its base intent, and the response it is answered
    # with (`faq/ask_nothing` passed when only `faq` was checked, and never applied)
    base, _, key = name.partition(RETRIEVAL_SEPARATOR)
    return kind == "intent" and bool(key) and base in known and \
        f"utter_{name}" in domain.responses


def _sub_intents(name: str, domain: Domain) -> list[str]:
    """The sub-intents of ``name``'s retrieval intent that the domain answers."""
    base = name.partition(RETRIEVAL_SEPARATOR)[0]
    prefix = f"utter_{base}{RETRIEVAL_SEPARATOR}"
    return sorted(r[len("utter_"):] for r in domain.responses if r.startswith(prefix))


def check_against_domain(definitions: list[MarkerDefinition], domain: Domain) -> list[Problem]:
    """One error for every condition naming an action, intent or slot ``domain`` lacks."""
    problems = []
    for definition in definitions:
        for node in definition.marker.walk():
            if not isinstance(node, Condition):
                continue
            known = _known(node.kind, domain)
            if _is_known(node.kind, node.value, known, domain):
                continue
            if node.kind == "intent" and RETRIEVAL_SEPARATOR in node.value:
                known = [*known, *_sub_intents(node.value, domain)]
            hint = did_you_mean(node.value, known) or \
                f"declare it under {_SECTIONS[node.kind]} in the domain"
            problems.append(Problem(
                node.position or definition.position, "error",
                f"marker '{definition.name}': `{node.tag}` names the {node.kind} "
                f"'{node.value}', which the domain does not have", hint, MARKER_DOMAIN_PROBLEM))
    return problems


def read_domain(path: str | Path) -> Domain:
    """The domain in a YAML file or a folder of them, as ``--domain`` names it.

    Raises :class:`ProjectNotFoundError` when the path does not exist and
    :class:`ProjectValidationError` when the domain has errors.
    """
    from dialogflowlite.io.domain_reader import DomainReader
    from dialogflowlite.io.problems import ProblemLog
    from dialogflowlite.io.yaml import read_yaml_file

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*")
                       if p.is_file() and p.suffix in (".yml", ".yaml"))
    elif path.is_file():
        files = [path]
    else:
        raise ProjectNotFoundError(f"domain {path} does not exist",
                                   hint="pass --domain with a domain file or folder")
    if not files:
        raise ProjectNotFoundError(f"the folder {path} holds no domain files (.yml, .yaml)")
    log = ProblemLog()
    reader = DomainReader(log)
    for file in files:
        try:
            data = read_yaml_file(file)
        except DialogflowLiteError as e:
            log.add(e, file)
            continue
        reader.read(file, data)
    domain = reader.finish()
    if log.errors:
        raise ProjectValidationError(log.problems, hint="fix the domain first")
    return domain
