"""Cross-file checks of a loaded project: every finding is a :class:`Problem` at file:line.

The loader already reports what it meets while reading one file (YAML syntax,
unknown keys, malformed annotation, wrong types). The checks here look across
files: stories against the domain, NLU data against the domain, stories
against each other, config.yml against the installed components.

Severity follows one rule: an **error** makes training or running the bot go
wrong (a story names an action that does not exist, two stories teach
opposite things); a **warning** is suspicious but workable (an intent without
examples, data the domain does not use). ``docs/validation.md`` lists every
check with its code.

Each check is a small function ``check_*(project) -> list[Problem]``, listed
in :data:`CHECKS`; :func:`validate_project` runs them all.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import (
    DialogflowLiteError,
    Position,
    Problem,
    RuleDataError,
    YamlSyntaxError,
)
from dialogflowlite.io.config_reader import COMPONENT_SECTIONS, ComponentConfig
from dialogflowlite.io.formats import did_you_mean, flag_meaning
from dialogflowlite.io.loader import Project
from dialogflowlite.io.problems import NO_DOMAIN
from dialogflowlite.io.yaml import position as yaml_position
from dialogflowlite.io.yaml import read_yaml_file, to_plain
from dialogflowlite.shared.domain import (
    ACTION_GENERATE,
    ACTION_LISTEN,
    ACTION_TWO_STAGE_FALLBACK,
    DEFAULT_INTENTS,
    FROM_ENTITY,
    FROM_INTENT,
    FROM_TEXT,
    FROM_TRIGGER_INTENT,
    REQUESTED_SLOT,
    SESSION_START_METADATA_SLOT,
    Domain,
    ResponseDef,
    SlotDef,
    variation_conditions,
)
from dialogflowlite.shared.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from dialogflowlite.shared.message import RETRIEVAL_SEPARATOR, has_content
from dialogflowlite.shared.stories import (
    ANY_SLOT_VALUE,
    ActionStep,
    ActiveLoopStep,
    CheckpointStep,
    OrStep,
    SlotStep,
    Step,
    Story,
    UserStep,
)
from dialogflowlite.shared.story_paths import StoryPath, expand_stories, unjoined_checkpoints

if TYPE_CHECKING:
    from dialogflowlite.plugins.registry import ComponentRegistry

# ---------------------------------------------------------------- codes

UNKNOWN_INTENT = "DFL111"
UNKNOWN_ACTION = "DFL112"
UNKNOWN_SLOT = "DFL113"
UNKNOWN_FORM = "DFL114"
UNKNOWN_ENTITY = "DFL115"
UTTER_WITHOUT_RESPONSE = "DFL116"
ANNOTATED_ENTITY_NOT_IN_DOMAIN = "DFL117"
DUPLICATE_EXAMPLE = "DFL118"
CONTRADICTING_STORIES = "DFL119"
MAPPING_UNKNOWN_ENTITY = "DFL120"
INTENT_WITHOUT_EXAMPLES = "DFL121"
RETRIEVAL_WITHOUT_RESPONSE = "DFL122"
NLU_INTENT_NOT_IN_DOMAIN = "DFL123"
FORM_UNKNOWN_SLOT = "DFL124"
FORM_SLOT_NOT_ASKED = "DFL125"
MAPPING_UNKNOWN_INTENT = "DFL126"
CHECKPOINT_NOT_JOINED = "DFL127"
INVALID_REGEX = "DFL128"
CONFLICTING_SYNONYM = "DFL129"
COMPONENT_WRONG_SECTION = "DFL130"
STORY_PATHS_TRUNCATED = "DFL131"
UNUSED_RESPONSE = "DFL132"
UNUSED_INTENT = "DFL133"
DUPLICATE_STORY_NAME = "DFL134"
RESPONSE_CONDITION = "DFL135"
CHECKS_SKIPPED = "DFL136"
INTERRUPTION_FILLS_SLOT = "DFL137"
STORY_SLOT_VALUE = "DFL138"
RETRIEVAL_WITHOUT_SELECTOR = "DFL139"
CONDITION_NEVER_HOLDS = "DFL140"
INTENT_UNKNOWN_ENTITY = "DFL141"
RULE_USER_TURNS = "DFL142"
PAIR_FILE = "DFL143"
GENERATE_WITHOUT_GENERATOR = "DFL144"
SINGLE_INTENT = "DFL145"
BUTTON_PAYLOAD = "DFL146"
GENERATOR_INPUT = "DFL147"
RULES_DISAGREE = "DFL148"
IGNORED_SLOT_CONDITION = "DFL149"
FALLBACK_RESPONSE = "DFL150"
#: problems of what only the response generator reads (its pair files, its blocklist
#: file, its training pairs): training without the generator (`train nlu`) takes them as
#: warnings
GENERATION_ONLY_CODES = frozenset({PAIR_FILE, GENERATOR_INPUT})

#: responses the default actions send when the domain has them
DEFAULT_ACTION_RESPONSES = ("utter_default", "utter_restart", "utter_back", "utter_ask_rephrase")

#: policies whose ``max_history`` sets how far back the contradiction check looks
HISTORY_POLICIES = (
    "MemoizationPolicy",
    "AugmentedMemoizationPolicy",
    "TransformerPolicy",
    "TEDPolicy",
)
DEFAULT_MAX_HISTORY = 5
#: story paths the contradiction check looks at, at most
MAX_CHECKED_PATHS = 20_000

#: default actions that run as a loop, so ``active_loop`` may name them
LOOP_ACTIONS = (ACTION_TWO_STAGE_FALLBACK,)

#: the component kinds each config.yml section accepts
SECTION_KINDS = {
    "pipeline": (
        "tokenizer",
        "featurizer",
        "intent_classifier",
        "entity_extractor",
        "response_selector",
    ),
    "policies": ("policy",),
    "generators": ("generator",),
}

#: intents named like this come from outside (reminders, external events), not from users
EXTERNAL_INTENT_PREFIX = "EXTERNAL_"


def _error(where: Position, message: str, hint: str | None, code: str) -> Problem:
    return Problem(where, "error", message, hint, code)


def _warning(where: Position, message: str, hint: str | None, code: str) -> Problem:
    return Problem(where, "warning", message, hint, code)


def _where(*candidates: Position | None, fallback: str = "domain.yml") -> Position:
    """The first known position (one with a line), else the first one, else the fallback file."""
    known = [c for c in candidates if c is not None]
    for candidate in known:
        if candidate.line is not None:
            return candidate
    return known[0] if known else Position(fallback)


def _domain_file(project: Project) -> str:
    if project.domain.position is not None:
        return project.domain.position.file
    return str(project.root / "domain.yml")


def _suggest(word: str, options: list[str], otherwise: str) -> str:
    return did_you_mean(word, options) or otherwise


# ---------------------------------------------------------------- story steps


def _kind_name(story: Story) -> str:
    """How messages name a story of this kind."""
    return {"rule": "rule", "test": "test story"}.get(story.kind, "story")


@dataclass
class _StepRef:
    """One step of a story, rule or test story, with where it came from."""

    story: Story
    step: Step
    in_condition: bool = False

    @property
    def kind(self) -> str:
        return _kind_name(self.story)

    @property
    def severity(self) -> str:
        # A broken test story fails its test but does not spoil training.
        return "warning" if self.story.kind == "test" else "error"

    @property
    def position(self) -> Position:
        return _where(self.step.position, self.story.position)

    def problem(self, message: str, hint: str | None, code: str) -> Problem:
        return Problem(
            self.position, self.severity, f"{self.kind} '{self.story.name}' {message}", hint, code
        )


def _flat(steps: list[Step]) -> Iterator[Step]:
    for step in steps:
        if isinstance(step, OrStep):
            yield from step.alternatives
        else:
            yield step


@dataclass
class StoriesAlone:
    """Stories to check without the rest of their project: what the checks that read
    only the domain and the stories (:data:`STORY_CHECKS`) look at."""

    domain: Domain
    test_stories: list[Story]
    stories: list[Story] = field(default_factory=list)
    rules: list[Story] = field(default_factory=list)


def _story_steps(project: Project | StoriesAlone) -> Iterator[_StepRef]:
    """Every step of every story, rule (conditions included) and test story."""
    for story in (*project.stories, *project.rules, *project.test_stories):
        for step in _flat(story.condition):
            yield _StepRef(story, step, in_condition=True)
        for step in _flat(story.steps):
            yield _StepRef(story, step)


def _base_intent(intent: str) -> str:
    return intent.split(RETRIEVAL_SEPARATOR, 1)[0]


def check_story_intents(project: Project | StoriesAlone) -> list[Problem]:
    """Stories and rules may only use intents the domain declares (or default intents)."""
    known = project.domain.intent_names
    problems = []
    for ref in _story_steps(project):
        step = ref.step
        if isinstance(step, UserStep) and step.intent and _base_intent(step.intent) not in known:
            problems.append(
                ref.problem(
                    f"uses intent '{step.intent}' that the domain lacks",
                    _suggest(
                        _base_intent(step.intent), known, "declare it under intents: in the domain"
                    ),
                    UNKNOWN_INTENT,
                )
            )
    return problems


def _is_known_action(domain: Domain, name: str) -> bool:
    return domain.is_known_action(name) or name in domain.responses


def check_story_actions(project: Project | StoriesAlone) -> list[Problem]:
    """Actions in stories and rules must exist: default, custom (``actions:``), form or response.

    ``utter_`` actions are left to :func:`check_utter_responses`, which says more.
    """
    domain = project.domain
    problems = []
    for ref in _story_steps(project):
        step = ref.step
        if not isinstance(step, ActionStep) or not step.name or step.name.startswith("utter_"):
            continue
        if not _is_known_action(domain, step.name):
            problems.append(
                ref.problem(
                    f"runs action '{step.name}' that the domain lacks",
                    _suggest(
                        step.name,
                        domain.action_names,
                        "list custom actions under actions: in the domain",
                    ),
                    UNKNOWN_ACTION,
                )
            )
    return problems


def check_story_slots(project: Project | StoriesAlone) -> list[Problem]:
    """``slot_was_set`` (in steps, conditions and checkpoints) may only name declared slots."""
    slots = list(project.domain.slots)
    problems = []
    for ref in _story_steps(project):
        step = ref.step
        if isinstance(step, SlotStep):
            names = list(step.slots)
        elif isinstance(step, CheckpointStep):
            names = list(step.slot_conditions)
        else:
            continue
        for name in names:
            if name not in slots:
                problems.append(
                    ref.problem(
                        f"sets slot '{name}' that the domain lacks",
                        _suggest(name, slots, "declare it under slots: in the domain"),
                        UNKNOWN_SLOT,
                    )
                )
    return problems


def problems_of_test_stories(domain: Domain, stories: Sequence[Story]) -> list[Problem]:
    """What :data:`STORY_CHECKS` find in ``stories`` (test stories) against ``domain``, a
    trained model's: what ``test core`` reports, and counts against each story."""
    view = StoriesAlone(domain, list(stories))
    return [problem for check in STORY_CHECKS for problem in check(view)]


def check_story_slot_values(project: Project) -> list[Problem]:
    """``slot_was_set`` (in steps, conditions and checkpoints) should give a value the
    slot's type can hold; training reads one it cannot as something else (see
    :func:`slot_value_misfit`), without a word."""
    slots = project.domain.slots
    problems = []
    for ref in _story_steps(project):
        step = ref.step
        if isinstance(step, SlotStep):
            values = step.slots
        elif isinstance(step, CheckpointStep):
            values = step.slot_conditions
        else:
            continue
        for name, value in values.items():
            # a slot the domain lacks is DFL113's to report
            misfit = slot_value_misfit(slots[name], value) if name in slots else None
            if misfit is not None:
                reason, hint = misfit
                problems.append(_warning(
                    ref.position, f"{ref.kind} '{ref.story.name}' sets slot '{name}' to "
                    f"{value!r}, {reason}", hint, STORY_SLOT_VALUE))
    return problems


def check_story_loops(project: Project | StoriesAlone) -> list[Problem]:
    """``active_loop`` must name a form of the domain (or a default loop action)."""
    loops = [*project.domain.forms, *LOOP_ACTIONS]
    problems = []
    for ref in _story_steps(project):
        step = ref.step
        if isinstance(step, ActiveLoopStep) and step.name and step.name not in loops:
            problems.append(
                ref.problem(
                    f"activates form '{step.name}' that the domain lacks",
                    _suggest(step.name, loops, "declare it under forms: in the domain"),
                    UNKNOWN_FORM,
                )
            )
    return problems


def check_story_entities(project: Project | StoriesAlone) -> list[Problem]:
    """Entities of user steps (``entities:`` or annotated ``user:`` text) must be declared."""
    entities = project.domain.entity_names
    problems = []
    for ref in _story_steps(project):
        step = ref.step
        if not isinstance(step, UserStep):
            continue
        for entity in step.entities:
            if entity.entity not in entities:
                problems.append(
                    ref.problem(
                        f"uses entity '{entity.entity}' that the domain lacks",
                        _suggest(
                            entity.entity, entities, "declare it under entities: in the domain"
                        ),
                        UNKNOWN_ENTITY,
                    )
                )
    return problems


def _source_position(project: Project, files: list[str], pattern: str) -> Position | None:
    """Where ``pattern`` (a regex) first matches a line of ``files``: for names read without one."""
    regex = re.compile(pattern)
    for file in files:
        try:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(lines, start=1):
            match = regex.search(line)
            if match:
                return Position(file, number, match.start(1) + 1 if match.groups() else 1)
    return None


def _domain_files(project: Project) -> list[str]:
    # the files the loader read as the domain (only the first of domain.yml, domain.yaml
    # and domain/, or what --domain and the importers name; imported projects' too):
    # a domain.yml read as data (`--data .`) is no domain file
    return [str(f) for f in project.domain_files]


def _missing_response(domain: Domain, name: str) -> bool:
    return name not in domain.responses and name not in domain.utter_actions


def check_utter_steps(project: Project | StoriesAlone) -> list[Problem]:
    """Every ``utter_`` action of a story, rule or test story needs a response, or
    training pairs that teach a configured generator to write it (``use_for: missing``)."""
    domain = project.domain
    responses = list(domain.responses)
    generated = generated_actions(project) if isinstance(project, Project) else set()
    problems = []
    for ref in _story_steps(project):
        step = ref.step
        if (
            isinstance(step, ActionStep)
            and step.name
            and step.name.startswith("utter_")
            and step.name not in generated
            and _missing_response(domain, step.name)
        ):
            problems.append(
                ref.problem(
                    f"runs '{step.name}' but no response of that name exists",
                    _suggest(step.name, responses, f"add `{step.name}:` under responses:"),
                    UTTER_WITHOUT_RESPONSE,
                )
            )
    return problems


def _generator_settings(project: Project) -> list[tuple[ComponentConfig, dict[str, Any] | None]]:
    """Each configured generator with its resolved settings; None where they do not
    resolve (:func:`check_components` reports that)."""
    from dialogflowlite.plugins.registry import get_registry

    found: list[tuple[ComponentConfig, dict[str, Any] | None]] = []
    for component in project.config.generators:
        try:
            settings = get_registry().get(component.name).resolve_config(component.params)
        except DialogflowLiteError:
            settings = None
        found.append((component, settings))
    return found


def _pair_file_generators(project: Project) -> list[dict[str, Any]]:
    """The resolved settings of the configured generators that learn from the project's
    pair files (``pair_files``, the default)."""
    return [settings for _, settings in _generator_settings(project)
            if settings is not None and flag_meaning(settings.get("pair_files", False))]


def _pair_file_examples(project: Project) -> Iterator[Any]:
    """The examples of every pair file under ``data/``; a file that cannot be read
    raises (:func:`check_pair_files` reports it)."""
    from dialogflowlite.components.generation.data import pair_files, read_pairs_file

    for path in pair_files(project.root):
        yield from read_pairs_file(path)


def generated_actions(project: Project) -> set[str]:
    """The ``utter_`` actions that a configured generator learns to write from the pair
    files (act -> text pairs), where it speaks for them (``use_for`` other than
    ``never``, a ``mode`` with act -> text): they need no response in the domain."""
    from dialogflowlite.components.generation.data import ACT2TEXT

    speaking = [settings for settings in _pair_file_generators(project)
                if settings.get("mode") in (ACT2TEXT, "both")
                and settings.get("use_for") != "never"]
    if not speaking:
        return set()
    try:
        return {example.act_name for example in _pair_file_examples(project)
                if example.mode == ACT2TEXT and example.act_name}
    except DialogflowLiteError:
        return set()  # check_pair_files reports the file


def check_generate_action(project: Project) -> list[Problem]:
    """A story or rule that runs ``action_generate`` needs a configured generator that
    writes free replies (a ``mode`` with context -> response): without one the action
    sends ``utter_default`` every time, and nothing said why."""
    from dialogflowlite.components.generation.data import CONTEXT2RESPONSE

    for _, settings in _generator_settings(project):
        if settings is None:
            return []  # check_components reports it; this check cannot tell
        if settings.get("mode", CONTEXT2RESPONSE) in (CONTEXT2RESPONSE, "both"):
            return []
    for ref in _story_steps(project):
        if isinstance(ref.step, ActionStep) and ref.step.name == ACTION_GENERATE:
            return [Problem(
                ref.position, "warning",
                f"{ref.kind} '{ref.story.name}' runs '{ACTION_GENERATE}', but config.yml has "
                "no generator that writes replies from the conversation, so it sends "
                "utter_default every time",
                "add `generators: [{name: NeuralResponseGenerator}]` to config.yml "
                "(mode both or context2response)", GENERATE_WITHOUT_GENERATOR)]
    return []


def check_generator_inputs(project: Project) -> list[Problem]:
    """What the configured generators read from the project: a ``blocklist_file`` that
    is there, and training pairs for their modes. Training stopped on either only after
    the NLU pipeline and the policies had trained, and kept nothing."""
    from dialogflowlite.components.generation.data import MODES, project_examples

    problems = []
    file = str(project.config.file or project.root / "config.yml")
    for component, settings in _generator_settings(project):
        if settings is None:
            continue
        where = _where(component.position, fallback=file)
        blocklist_file = settings.get("blocklist_file")
        if isinstance(blocklist_file, str) and blocklist_file:
            path = Path(blocklist_file)
            path = path if path.is_absolute() else project.root / path
            if not path.is_file():
                problems.append(_error(
                    where, f"{component.name}: blocklist_file {blocklist_file!r} is not a file "
                    f"({path})", "a relative path starts at the project folder",
                    GENERATOR_INPUT))
        mode = settings.get("mode")
        if mode not in (*MODES, "both"):
            continue
        try:
            examples = project_examples(
                project, modes=MODES if mode == "both" else (mode,),
                pair_files_too=bool(flag_meaning(settings.get("pair_files", True))))
        except DialogflowLiteError:
            continue  # check_pair_files reports the file
        if not any(example.target for example in examples):
            problems.append(_error(
                where, f"{component.name} has no training pairs for mode {mode}: no response "
                "texts, stories with responses or pair files give it any",
                "add responses, stories, or pair files under data/ (docs/responses.md)",
                GENERATOR_INPUT))
    return problems


def check_pair_files(project: Project) -> list[Problem]:
    """The generator's pair files (``data/**/*.jsonl``) must read: training stopped on a
    bad line only after the NLU pipeline and the policies had trained."""
    if not _pair_file_generators(project):
        return []
    from dialogflowlite.components.generation.data import pair_files, read_pairs_file

    problems = []
    for path in pair_files(project.root):
        try:
            read_pairs_file(path)
        except DialogflowLiteError as e:
            problem = Problem.from_error(e, str(path))
            problems.append(Problem(problem.position, "error", problem.message, problem.hint,
                                    PAIR_FILE))
    return problems


def check_utter_responses(project: Project) -> list[Problem]:
    """Every ``utter_`` action (in stories, rules or under ``actions:``) needs a response."""
    domain = project.domain
    responses = list(domain.responses)
    problems = check_utter_steps(project)
    for name in domain.custom_actions:
        if name.startswith("utter_") and _missing_response(domain, name):
            where = _source_position(
                project, _domain_files(project), rf"^\s*-\s*({re.escape(name)})\s*(:|$|#)"
            )
            problems.append(
                _error(
                    _where(where, domain.position, fallback=_domain_file(project)),
                    f"action '{name}' is listed under actions: but no response of that name exists",
                    _suggest(name, responses, f"add `{name}:` under responses:"),
                    UTTER_WITHOUT_RESPONSE,
                )
            )
    return problems


# ---------------------------------------------------------------- NLU data


def check_annotated_entities(project: Project) -> list[Problem]:
    """Entities (and their roles and groups) annotated in NLU examples should be declared.

    A warning: the entity extractor learns them, but the dialogue ignores them.
    Reported once per entity (or role, or group), at its first example.
    """
    domain = project.domain
    entities = domain.entity_names
    first: dict[tuple[str, str, str], Any] = {}
    count: dict[tuple[str, str, str], int] = defaultdict(int)
    for example in project.nlu.examples:
        for entity in example.entities:
            definition = domain.entities.get(entity.entity)
            keys = []
            if definition is None:
                keys.append(("entity", entity.entity, ""))
            else:
                if entity.role and entity.role not in definition.roles:
                    keys.append(("role", entity.entity, entity.role))
                if entity.group and entity.group not in definition.groups:
                    keys.append(("group", entity.entity, entity.group))
            for key in keys:
                first.setdefault(key, example)
                count[key] += 1
    problems = []
    for key, example in first.items():
        label, name, value = key
        where = _where(example.position, fallback="data")
        times = f"{count[key]} example(s), first {example.text!r}"
        if label == "entity":
            problems.append(
                _warning(
                    where,
                    f"entity '{name}' is annotated in {times}, but the domain lacks it",
                    _suggest(name, entities, "declare it under entities: in the domain"),
                    ANNOTATED_ENTITY_NOT_IN_DOMAIN,
                )
            )
        else:
            problems.append(
                _warning(
                    where,
                    f"entity '{name}' has the {label} '{value}' in {times}, but the domain "
                    f"does not declare that {label}",
                    f"add it under the entity's {label}s: in the domain",
                    ANNOTATED_ENTITY_NOT_IN_DOMAIN,
                )
            )
    return problems


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def check_duplicate_examples(project: Project) -> list[Problem]:
    """One example text (case and spacing aside) under two intents confuses the classifier."""
    first_seen: dict[str, Any] = {}
    problems = []
    for example in project.nlu.examples:
        if not example.intent:
            continue
        key = _normalised(example.text)
        earlier = first_seen.setdefault(key, example)
        if earlier.intent != example.intent:
            problems.append(
                _warning(
                    _where(example.position, fallback="data"),
                    f"example {example.text!r} is under intent '{example.intent}' and also "
                    f"under '{earlier.intent}' at {earlier.position}",
                    "keep it under one intent only",
                    DUPLICATE_EXAMPLE,
                )
            )
    return problems


def check_nlu_intents_in_domain(project: Project) -> list[Problem]:
    """NLU examples of an intent the domain lacks teach the classifier a label dialogue ignores."""
    known = project.domain.intent_names
    problems = []
    seen: set[str] = set()
    for example in project.nlu.examples:
        base = example.base_intent
        if not base or base in known or base in seen:
            continue
        seen.add(base)
        problems.append(
            _warning(
                _where(example.position, fallback="data"),
                f"NLU examples use intent '{base}' that the domain lacks",
                _suggest(
                    base, known, "declare it under intents: in the domain, or remove the examples"
                ),
                NLU_INTENT_NOT_IN_DOMAIN,
            )
        )
    return problems


def _button_intents(domain: Domain) -> set[str]:
    """Intents that response buttons send directly (``payload: /intent{...}``)."""
    found = set()
    for response in domain.responses.values():
        for variation in response.variations:
            buttons = [variation.get("buttons"), variation.get("quick_replies")]
            for button in (b for group in buttons if isinstance(group, list) for b in group):
                payload = button.get("payload") if isinstance(button, dict) else None
                if isinstance(payload, str) and payload.startswith("/"):
                    found.add(re.split(r"[{@\s]", payload[1:], maxsplit=1)[0])
    return found


def check_intents_without_examples(project: Project) -> list[Problem]:
    """A declared intent with no NLU examples can never be predicted from text.

    Not reported for default intents, for ``EXTERNAL_*`` intents (external
    events and reminders trigger them) and for intents that response buttons
    send directly (``payload: /intent``).
    """
    with_examples = set(project.nlu.intents)
    skipped = set(DEFAULT_INTENTS) | _button_intents(project.domain)
    problems = []
    for name, intent in project.domain.intents.items():
        if name in with_examples or name in skipped or name.startswith(EXTERNAL_INTENT_PREFIX):
            continue
        problems.append(
            _warning(
                _where(intent.position, project.domain.position, fallback=_domain_file(project)),
                f"intent '{name}' has no NLU examples, so no message is classified as it",
                f"add examples under `- intent: {name}` in data/, or name it "
                f"'{EXTERNAL_INTENT_PREFIX}{name}' if only external events send it",
                INTENT_WITHOUT_EXAMPLES,
            )
        )
    return problems


def check_single_intent(project: Project) -> list[Problem]:
    """NLU data of one intent gives an intent classifier nothing to tell apart: it answers
    every message with that intent, confidence 1.0 (Rasa skips training it then)."""
    intents = project.nlu.intents
    if len(intents) != 1 or not _trains_an_intent_classifier(project):
        return []
    first = next(e for e in project.nlu.examples if e.base_intent == intents[0])
    return [_warning(
        _where(first.position, fallback=str(project.root / "data")),
        f"the NLU data has one intent, '{intents[0]}': the intent classifier learns nothing "
        "to tell apart and gives it to every message with confidence 1.0",
        "add examples of the other things users say (an `out_of_scope` intent is enough)",
        SINGLE_INTENT)]


def _trains_an_intent_classifier(project: Project) -> bool:
    """Whether config.yml's pipeline (or the default one, when it names none) has an
    intent classifier besides the FallbackClassifier."""
    from dialogflowlite.components.nlu.rasa_compat import translate_pipeline
    from dialogflowlite.plugins.registry import get_registry

    if not project.config.pipeline:
        return True
    try:
        components = translate_pipeline(project.config.pipeline,
                                        language=project.config.language, quiet=True)
        kinds = [(c.name, get_registry().get(c.name).kind) for c in components]
    except DialogflowLiteError:
        return False  # check_components reports it
    return any(kind == "intent_classifier" and name != "FallbackClassifier"
               for name, kind in kinds)


def check_retrieval_responses(project: Project) -> list[Problem]:
    """Each retrieval sub-intent (``faq/ask_price``) needs a response ``utter_faq/ask_price``."""
    domain = project.domain
    problems: list[Problem] = []
    first: dict[str, Any] = {}
    for example in project.nlu.examples:
        if example.intent and RETRIEVAL_SEPARATOR in example.intent:
            first.setdefault(example.intent, example)
    for intent, example in first.items():
        response = f"utter_{intent}"
        if response not in domain.responses:
            problems.append(
                _error(
                    _where(example.position, fallback="data"),
                    f"retrieval intent '{intent}' has no response '{response}'",
                    f"add `{response}:` under responses: (in the domain or a data file)",
                    RETRIEVAL_WITHOUT_RESPONSE,
                )
            )
    for name, response in domain.responses.items():
        if RETRIEVAL_SEPARATOR in name and name.startswith("utter_"):
            intent = name[len("utter_") :]
            if intent not in first:
                problems.append(
                    _warning(
                        _where(response.position, fallback=_domain_file(project)),
                        f"response '{name}' answers retrieval intent '{intent}', which has no "
                        "NLU examples",
                        f"add examples under `- intent: {intent}`",
                        RETRIEVAL_WITHOUT_RESPONSE,
                    )
                )
    return problems


def check_regexes(project: Project) -> list[Problem]:
    """Regex patterns must compile (featurizers and extractors compile them while training)."""
    problems = []
    for regex in project.nlu.regexes:
        try:
            re.compile(regex.pattern)
        except re.error as e:
            problems.append(
                _error(
                    _where(regex.position, fallback="data"),
                    f"regex '{regex.name}' pattern {regex.pattern!r} is not a valid regular "
                    f"expression ({e.msg})",
                    "fix the pattern (Python `re` syntax)",
                    INVALID_REGEX,
                )
            )
    return problems


def check_synonyms(project: Project) -> list[Problem]:
    """A variant given two values: training keeps the later one (the ``synonym:`` items
    are read first, then the annotations; letter case ignored), which is seldom meant.
    Each override is named where it stands."""
    latest: dict[str, tuple[str, Position | None]] = {}
    problems = []
    for synonym in project.nlu.synonyms_in_training_order():
        for variant in synonym.variants:
            key = variant.lower()
            earlier = latest.get(key)
            if earlier is not None and earlier[0] != synonym.value:
                problems.append(
                    _warning(
                        _where(synonym.position, fallback="data"),
                        f"'{variant}' is a synonym of '{synonym.value}' here "
                        f"but of '{earlier[0]}' at {earlier[1]}",
                        "map each variant to one value only",
                        CONFLICTING_SYNONYM,
                    )
                )
            latest[key] = (synonym.value, synonym.position)
    return problems


# ---------------------------------------------------------------- domain


def check_intent_entities(project: Project) -> list[Problem]:
    """An intent's ``use_entities`` / ``ignore_entities`` should name declared entities:
    a misspelt name there silently passes on (or keeps back) nothing."""
    domain = project.domain
    entities = domain.entity_names
    problems = []
    for intent in domain.intents.values():
        used = intent.use_entities if isinstance(intent.use_entities, list) else []
        for key, names in (("use_entities", used), ("ignore_entities", intent.ignore_entities)):
            for name in names:
                if name not in entities:
                    problems.append(_warning(
                        _where(intent.position, fallback=_domain_file(project)),
                        f"intent '{intent.name}' names entity '{name}' under {key}, which the "
                        "domain lacks, so that entry does nothing",
                        _suggest(name, entities, "declare it under entities: in the domain"),
                        INTENT_UNKNOWN_ENTITY))
    return problems


def check_mapping_entities(project: Project) -> list[Problem]:
    """A ``from_entity`` slot mapping must name an entity the domain declares."""
    domain = project.domain
    entities = domain.entity_names
    problems = []
    for slot in domain.slots.values():
        for mapping in slot.mappings:
            if mapping.type == FROM_ENTITY and mapping.entity and mapping.entity not in entities:
                problems.append(
                    _error(
                        _where(mapping.position, slot.position, fallback=_domain_file(project)),
                        f"slot '{slot.name}' is filled from entity '{mapping.entity}' that the "
                        "domain lacks",
                        _suggest(
                            mapping.entity, entities, "declare it under entities: in the domain"
                        ),
                        MAPPING_UNKNOWN_ENTITY,
                    )
                )
    return problems


def check_mapping_intents(project: Project) -> list[Problem]:
    """``intent`` / ``not_intent`` of a slot mapping, and a form's ``ignored_intents``,
    should name known intents."""
    domain = project.domain
    known = domain.intent_names
    problems = []
    for slot in domain.slots.values():
        for mapping in slot.mappings:
            for intent in (*mapping.intent, *mapping.not_intent):
                if _base_intent(intent) not in known:
                    problems.append(
                        _warning(
                            _where(mapping.position, slot.position, fallback=_domain_file(project)),
                            f"a mapping of slot '{slot.name}' names intent '{intent}' that the "
                            "domain lacks, so that part of the mapping never applies",
                            _intent_hint(intent, known, domain),
                            MAPPING_UNKNOWN_INTENT,
                        )
                    )
    for form in domain.forms.values():
        for intent in form.ignored_intents:
            if _base_intent(intent) not in known:
                problems.append(_warning(
                    _where(form.entry_positions.get(f"ignored_intents:{intent}"),
                           form.position, fallback=_domain_file(project)),
                    f"form '{form.name}' ignores intent '{intent}' that the domain lacks, so "
                    "that entry of its ignored_intents never applies",
                    _intent_hint(intent, known, domain), MAPPING_UNKNOWN_INTENT))
    return problems


def _intent_hint(intent: str, known: list[str], domain: Domain) -> str:
    """The hint for an unknown intent of a mapping: a form or action of that name is
    named as such (`cc_payment_form` got "did you mean 'transfer_money'?"), else the
    closest intent."""
    if intent in domain.forms:
        return (f"'{intent}' is a form, not an intent: to apply while the form is active, "
                f"write `conditions: [{{active_loop: {intent}}}]`")
    if intent in domain.action_names:
        return f"'{intent}' is an action, not an intent: name the intent the user sends"
    return _suggest(intent, known, "use a declared intent")


def check_mapping_conditions(project: Project) -> list[Problem]:
    """The ``conditions`` of a slot mapping should name a form (and a slot) the domain has:
    a mapping that waits for a loop that never runs never fills its slot."""
    domain = project.domain
    loops = [*domain.forms, *LOOP_ACTIONS]
    problems = []
    for slot in domain.slots.values():
        for mapping in slot.mappings:
            for condition in mapping.conditions:
                where = _where(mapping.position, slot.position, fallback=_domain_file(project))
                if condition.active_loop is not None and condition.active_loop not in loops:
                    problems.append(_warning(
                        where, f"a mapping of slot '{slot.name}' applies only while form "
                               f"'{condition.active_loop}' is active, which the domain lacks, "
                               "so it never applies",
                        _suggest(condition.active_loop, list(domain.forms),
                                 "declare the form, or fix the condition's active_loop"),
                        MAPPING_UNKNOWN_INTENT))
                if (condition.requested_slot is not None
                        and condition.requested_slot not in domain.slots):
                    problems.append(_warning(
                        where, f"a mapping of slot '{slot.name}' applies only while slot "
                               f"'{condition.requested_slot}' is requested, which the domain "
                               "lacks, so it never applies",
                        _suggest(condition.requested_slot, list(domain.slots),
                                 "fix the condition's requested_slot"),
                        MAPPING_UNKNOWN_INTENT))
    return problems


def check_form_slots(project: Project) -> list[Problem]:
    """A form may only require slots the domain declares."""
    domain = project.domain
    slots = [name for name, slot in domain.slots.items() if slot.declared]
    problems = []
    for form in domain.forms.values():
        for slot in form.required_slots:
            if slot not in domain.slots:
                problems.append(
                    _error(
                        _where(form.entry_positions.get(f"required_slots:{slot}"),
                               form.position, fallback=_domain_file(project)),
                        f"form '{form.name}' requires slot '{slot}' that the domain lacks",
                        _suggest(slot, slots, "declare it under slots:"),
                        FORM_UNKNOWN_SLOT,
                    )
                )
    return problems


def _can_fill(step: UserStep) -> bool:
    """Whether a from_text mapping could take the step's message: one with an intent
    and, when the step gives its text, a letter or digit in it (a text of
    punctuation or symbols alone never fills a slot)."""
    return bool(step.intent) and (step.text is None or has_content(step.text))


def _rule_interruptions(rule: Story) -> Iterator[tuple[str, str]]:
    """(form, intent) when the rule answers an intent while a form is active
    with something other than the form itself."""
    forms = [s.name for s in rule.condition if isinstance(s, ActiveLoopStep) and s.name]
    steps = [s for s in rule.steps if not isinstance(s, CheckpointStep)]
    if len(forms) != 1 or len(steps) < 2:
        return
    first, answer = steps[0], steps[1]
    if (isinstance(first, UserStep) and _can_fill(first) and isinstance(answer, ActionStep)
            and answer.name and answer.name != forms[0]):
        yield forms[0], first.intent


def _story_interruptions(story: Story) -> Iterator[tuple[str, str]]:
    """(form, intent) for each user turn of a story that comes while a form is active
    and is answered by an action other than the form.

    A story says a form is active from its ``active_loop: <form>`` step until
    ``active_loop: null``; slot events between the user turn and the answer are
    skipped. A checkpoint forgets the form, since the story joined there may not
    have one active. A turn whose text has no letter or digit ("?") is left out:
    no from_text mapping takes it.
    """
    active: str | None = None
    intents: list[str] = []
    for step in story.steps:
        if isinstance(step, ActiveLoopStep):
            active, intents = step.name, []
        elif isinstance(step, CheckpointStep):
            active, intents = None, []
        elif isinstance(step, UserStep | OrStep):
            alternatives = step.alternatives if isinstance(step, OrStep) else [step]
            intents = [a.intent for a in alternatives
                       if isinstance(a, UserStep) and _can_fill(a) and a.intent is not None]
        elif isinstance(step, ActionStep):
            if active and step.name and step.name != active:
                for intent in intents:
                    yield active, intent
            intents = []


def _interruptions(project: Project) -> Iterator[tuple[Story, str, str]]:
    """(story or rule, form, intent) for each place where the training data answers
    an intent during a form with something other than the form."""
    for rule in project.rules:
        for form, intent in _rule_interruptions(rule):
            yield rule, form, intent
    for story in (*project.stories, *project.test_stories):
        for form, intent in _story_interruptions(story):
            yield story, form, intent


def check_interruptions_fill_slots(project: Project) -> list[Problem]:
    """A message a rule or story answers during a form should not also become a slot's value.

    Slots are filled from every user message before the next action is chosen:
    a ``from_text`` mapping that applies while the form asks for its slot takes
    the whole message, so an interruption the rule answers ("can you tell me a
    joke?") becomes the answer to the form's question, unless the mapping's
    ``intent`` / ``not_intent`` (or the form's ``ignored_intents``) leave that
    intent out.
    """
    domain = project.domain
    problems = []
    reported: set[tuple[str, int, str]] = set()
    for story, form_name, intent in _interruptions(project):
        form = domain.forms.get(form_name)
        if form is None:
            continue
        for slot_name in form.required_slots:
            slot = domain.slots.get(slot_name)
            if slot is None:
                continue
            for index, mapping in enumerate(slot.mappings):
                if (mapping.type != FROM_TEXT
                        or not domain.mapping_takes_intent(mapping, intent, form_name)
                        or not mapping.conditions_met(form_name, slot_name)
                        or (slot_name, index, intent) in reported):
                    continue
                reported.add((slot_name, index, intent))
                problems.append(_warning(
                    _where(mapping.position, slot.position, fallback=_domain_file(project)),
                    f"while form '{form_name}' asks for slot '{slot_name}', its from_text "
                    f"mapping also takes messages of intent '{intent}', which "
                    f"{_kind_name(story)} '{story.name}' answers during the form: such a "
                    "message becomes the slot's value",
                    f"remove '{intent}' from the mapping's intent list" if mapping.intent
                    else f"add '{intent}' to the mapping's not_intent",
                    INTERRUPTION_FILLS_SLOT))
    return problems


def _asks_for(domain: Domain, form: str, slot: str) -> bool:
    names = (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}")
    actions = (f"action_ask_{form}_{slot}", f"action_ask_{slot}")
    return any(n in domain.responses for n in names) or any(
        a in domain.custom_actions for a in actions
    )


def check_form_questions(project: Project) -> list[Problem]:
    """A form asks for each required slot with ``utter_ask_<slot>`` or ``action_ask_<slot>``.

    A warning, not an error: Rasa trains such a form, which then asks nothing for the
    slot and listens. That suits a slot that is always filled before the form would
    ask (as the form starts, by a ``from_trigger_intent`` mapping) or a validation
    action that asks itself.
    """
    domain = project.domain
    problems = []
    for form in domain.forms.values():
        for slot in form.required_slots:
            if slot in domain.slots and not _asks_for(domain, form.name, slot):
                problems.append(
                    _warning(
                        _where(form.position, fallback=_domain_file(project)),
                        f"form '{form.name}' has no way to ask for slot '{slot}': when the "
                        "form needs it, it asks nothing and listens",
                        f"add a response 'utter_ask_{slot}' "
                        f"(or 'utter_ask_{form.name}_{slot}'), or "
                        f"a custom action 'action_ask_{slot}'; ignore this if the slot is "
                        "always filled before the form asks, or its validation action asks",
                        FORM_SLOT_NOT_ASKED,
                    )
                )
    return problems


# ---------------------------------------------------------------- what nothing uses


def _training_steps(project: Project) -> Iterator[Step]:
    """The steps (and rule conditions) of the training stories and rules, not test stories."""
    return (ref.step for ref in _story_steps(project) if ref.story.kind != "test")


def _form_questions(domain: Domain) -> set[str]:
    """The questions a form may ask: for any slot, since a custom action may add slots to
    ``required_slots`` while the form runs."""
    if not domain.forms:
        return set()
    return {name for slot in domain.slots for form in domain.forms
            for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}")}


def check_unused_responses(project: Project) -> list[Problem]:
    """A response no story or rule sends, no form asks with and no default action sends.

    As Rasa's ``data validate`` warns. ``utter_faq/ask_x`` counts as used
    when ``utter_faq`` is. A custom action may send it (it cannot be seen
    from here): the hint says so.
    """
    domain = project.domain
    used = {step.name for step in _training_steps(project)
            if isinstance(step, ActionStep) and step.name}
    used |= _form_questions(domain) | set(DEFAULT_ACTION_RESPONSES)
    problems = []
    for name, response in domain.responses.items():
        if name in used or name.split(RETRIEVAL_SEPARATOR, 1)[0] in used:
            continue
        problems.append(
            _warning(
                _where(response.position, domain.position, fallback=_domain_file(project)),
                f"response '{name}' is not used in any story or rule",
                "add it to a story or rule, remove it, or ignore this if a custom action "
                "sends it",
                UNUSED_RESPONSE,
            )
        )
    return problems


def check_unused_intents(project: Project) -> list[Problem]:
    """A declared intent that no story, rule or slot mapping uses, as Rasa's ``data validate``.

    The bot then has nothing learnt to do after it. Not reported for
    default intents, ``EXTERNAL_*`` intents and intents slot mappings name.
    """
    domain = project.domain
    used = {_base_intent(step.intent) for step in _training_steps(project)
            if isinstance(step, UserStep) and step.intent}
    used |= {_base_intent(intent) for slot in domain.slots.values()
             for mapping in slot.mappings for intent in mapping.intent}
    problems = []
    for name, intent in domain.intents.items():
        if name in used or name in DEFAULT_INTENTS or name.startswith(EXTERNAL_INTENT_PREFIX):
            continue
        problems.append(
            _warning(
                _where(intent.position, domain.position, fallback=_domain_file(project)),
                f"intent '{name}' is not used in any story or rule, so the bot has learnt "
                "nothing to do after it",
                f"add a story or rule that starts with `- intent: {name}`, or remove it",
                UNUSED_INTENT,
            )
        )
    return problems


def check_duplicate_story_names(project: Project) -> list[Problem]:
    """Two stories or rules (or two test stories) with one name, as Rasa's ``data validate`` warns.

    Test reports, failed stories and training logs name stories; with two of
    a name nobody can tell which one is meant.
    """
    problems = []
    for group in ((*project.stories, *project.rules), project.test_stories):
        first: dict[str, Story] = {}
        for story in group:
            earlier = first.setdefault(story.name, story)
            if earlier is story:
                continue
            where = earlier.position
            # "rule name 'x' ... (first at stories.yml)": say what the first one is
            other = "" if earlier.kind == story.kind else f" by a {_kind_name(earlier)}"
            first_at = (f" (first{other} at {where.file}:{where.line})"
                        if where and where.line else other)
            problems.append(
                _warning(
                    _where(story.position),
                    f"{_kind_name(story)} name '{story.name}' is used twice{first_at}",
                    "give each story and rule a name of its own",
                    DUPLICATE_STORY_NAME,
                )
            )
    return problems


def check_response_conditions(project: Project) -> list[Problem]:
    """A conditional response variation must test a declared slot, with a value it can have.

    Otherwise the variation silently never applies. Rasa's conditions are
    ``{type: slot, name: <slot>, value: <value>}``, and compare the value with
    what the slot holds as it was set (see :func:`condition_value_misfit`).
    """
    domain = project.domain
    slots = list(domain.slots)
    possible = _possible_slot_values(project)
    conditions = _ConditionPositions()
    problems = []
    for response in domain.responses.values():
        fallback = _where(response.position, domain.position, fallback=_domain_file(project))
        for variation in response.variations:
            for index, condition in enumerate(variation_conditions(variation)):
                where = conditions.find(response, variation, index) or fallback
                problem = _condition_problem(response.name, condition, domain, slots, where,
                                             possible)
                if problem is not None:
                    problems.append(problem)
    return problems


def _condition_problem(response: str, condition: Any, domain: Domain, slots: list[str],
                       where: Position, possible: dict[str, _SlotValues]) -> Problem | None:
    missing = [key for key in ("type", "name", "value")
               if isinstance(condition, dict) and key not in condition]
    if not isinstance(condition, dict) or condition.get("type", "slot") != "slot" or missing:
        # Rasa: "Condition must have 'type', 'name', and 'value' keys."; without `value`
        # it held while the slot was unset, without `type` it was taken for a slot's
        lacks = f" (it has no `{missing[0]}`)" if missing else ""
        return _error(where, f"response '{response}' has a condition that is not "
                      f"`{{type: slot, name: ..., value: ...}}`{lacks}",
                      "write each condition as type: slot, name: <slot>, value: <value> "
                      "(`value: null` for a slot that is not set)", RESPONSE_CONDITION)
    name = condition.get("name")
    if name == SESSION_START_METADATA_SLOT and name not in domain.slots:
        return None  # Rasa's domain always has it, and the tracker lists it
    if name not in domain.slots:
        return _error(where, f"response '{response}' has a condition on slot '{name}' that "
                      "the domain lacks, so that variation is never sent",
                      _suggest(str(name), slots, "declare the slot under slots:"),
                      RESPONSE_CONDITION)
    value = condition.get("value")
    slot = domain.slots[name]
    # a categorical slot's values are its author's list of what it may be
    misfit = slot_value_misfit(slot, value) if slot.type == "categorical" else None
    code = RESPONSE_CONDITION
    if misfit is None:
        misfit = condition_value_misfit(slot, value, possible.get(name))
        code = CONDITION_NEVER_HOLDS
    if misfit is not None:
        reason, hint = misfit
        return _warning(where, f"response '{response}' has a condition on slot '{name}' with "
                        f"value {value!r}, {reason}, so that variation is never sent",
                        hint, code)
    return None


@dataclass
class _SlotValues:
    """What a slot can be set to at run time, as far as the project tells."""

    #: an entity's value or the message's text (from_entity, from_text mappings)
    text: bool = False
    #: the values named in the project: from_intent mappings, the initial value,
    #: entity values that response buttons send (``/inform{"count": 2}``)
    named: list[Any] = field(default_factory=list)
    #: anything at all: a custom mapping, a validation action, an extractor whose
    #: values are numbers or objects (Duckling), no mappings
    anything: bool = False


#: mapping types whose values this check knows
_KNOWN_MAPPINGS = (FROM_ENTITY, FROM_TEXT, FROM_INTENT, FROM_TRIGGER_INTENT)


def _possible_slot_values(project: Project) -> dict[str, _SlotValues]:
    """For every slot, what its mappings (and the rest of the project) can set it to."""
    domain = project.domain
    sent = _button_entity_values(domain)
    structured = _pipeline_has_structured_entities(project)
    validated = _validated_slots(domain)
    found: dict[str, _SlotValues] = {}
    for name, slot in domain.slots.items():
        values = _SlotValues()
        found[name] = values
        if slot.initial_value is not None:
            values.named.append(slot.stored_value(slot.initial_value))
        if not slot.mappings or name in validated or any(
                m.type not in _KNOWN_MAPPINGS for m in slot.mappings):
            values.anything = True
            continue
        for mapping in slot.mappings:
            if mapping.type in (FROM_INTENT, FROM_TRIGGER_INTENT):
                values.named.append(slot.stored_value(mapping.value))
            elif mapping.type == FROM_TEXT:
                values.text = True
            else:
                values.text = True
                entity_values = sent.get(mapping.entity or "", [])
                if structured or entity_values is None:
                    values.anything = True
                else:
                    values.named += [slot.stored_value(v) for v in entity_values]
    return found


def _validated_slots(domain: Domain) -> set[str]:
    """Slots a validation action the domain declares may set to a value of its own
    (``validate_<form>`` for the form's slots, ``action_validate_slot_mappings`` for all)."""
    actions = set(domain.custom_actions)
    if "action_validate_slot_mappings" in actions:
        return set(domain.slots)
    return {slot for form in domain.forms.values() if f"validate_{form.name}" in actions
            for slot in form.required_slots}


def _pipeline_has_structured_entities(project: Project) -> bool:
    """Whether config.yml's pipeline has an extractor whose entity values may be numbers or
    objects rather than text (Duckling's)."""
    return any("duckling" in component.name.lower()
               for component in project.config.section("pipeline"))


def _button_entity_values(domain: Domain) -> dict[str, list[Any] | None]:
    """Entity values that response buttons send that are not text
    (``payload: '/inform{{"count": 2}}'``), per entity; None for an entity whose value an
    unquoted placeholder writes there (``{"count": {count}}``: it may be anything)."""
    from dialogflowlite.components.nlu.intent_shortcut import (
        parse_intent_shortcut,
        shortcut_entities_problem,
    )

    found: dict[str, list[Any] | None] = {}
    for _name, _response, _payload, written in _shortcut_payloads(domain):
        # a quoted placeholder ("{city}") is filled with text either way
        written = QUOTED_PLACEHOLDER.sub('"text"', written)
        if PLACEHOLDER_IN_PAYLOAD.search(written):
            for entity in re.findall(r'"([^"]+)"\s*:', written):
                found[entity] = None
            continue
        if shortcut_entities_problem(written):
            continue  # check_button_payloads reports it (parsing would log it)
        message = parse_intent_shortcut(written)
        for entity in message.entities if message is not None else ():
            known = found.setdefault(entity.entity, [])
            if known is not None and not isinstance(entity.value, str):
                known.append(entity.value)
    return found


def _shortcut_payloads(domain: Domain) -> Iterator[tuple[str, ResponseDef, str, str]]:
    """Each ``/intent...`` payload of a response's buttons or quick replies: the
    response's name, the response, the payload as written, and as sent (``{{``/``}}``,
    which keep braces from being read as a slot's placeholder, read as braces)."""
    for name, response in domain.responses.items():
        for variation in response.variations:
            groups = [variation.get("buttons"), variation.get("quick_replies")]
            for button in (b for group in groups if isinstance(group, list) for b in group):
                payload = button.get("payload") if isinstance(button, dict) else None
                if isinstance(payload, str) and payload.startswith("/"):
                    yield name, response, payload, payload.replace("{{", "{").replace("}}", "}")


def check_button_payloads(project: Project) -> list[Problem]:
    """A response button's ``/intent{...}`` payload whose entities do not read (their
    JSON is broken, or text follows it: ``/inform{"a": "b"}'``): the button sends the
    intent without them. Only a log line said so, at every message, with no file."""
    from dialogflowlite.components.nlu.intent_shortcut import shortcut_entities_problem

    problems = []
    for name, response, payload, written in _shortcut_payloads(project.domain):
        if PLACEHOLDER_IN_PAYLOAD.search(QUOTED_PLACEHOLDER.sub('"text"', written)):
            continue  # filled from slots when sent
        problem = shortcut_entities_problem(written)
        if problem:
            problems.append(_warning(
                _where(response.position, project.domain.position,
                       fallback=_domain_file(project)),
                f"response '{name}' has a button payload {payload!r}: {problem}",
                'write it as /intent{"entity": "value"} with nothing after the JSON',
                BUTTON_PAYLOAD))
    return problems


#: a ``{slot}`` placeholder left in a button payload once ``{{``/``}}`` are read
PLACEHOLDER_IN_PAYLOAD = re.compile(r"\{[A-Za-z_][\w.\-]*\}")
#: a placeholder that is all of a JSON string (``"{city}"``)
QUOTED_PLACEHOLDER = re.compile(r'"\{[A-Za-z_][\w.\-]*\}"')


def condition_value_misfit(slot: SlotDef, value: Any,
                           possible: _SlotValues | None) -> tuple[str, str] | None:
    """Why a response condition on ``slot`` with ``value`` can never hold, and how to write
    it; None when it can (or when what sets the slot is not known).

    A condition compares ``value`` with what the slot holds as it was set, text with
    text ignoring case, as Rasa compares them: entities and message text are text, so a
    float slot filled from an entity holds ``"2"``, which ``value: 2`` never meets; a
    list slot holds a list; a from_intent mapping sets its ``value`` as written.
    """
    if value is None or value == ANY_SLOT_VALUE:
        return None
    if slot.type == "list" and value and not isinstance(value, list):
        return ("which the list slot never holds, as it keeps a list of what it is set to",
                f"write the value as a list: value: [{_yaml_text(value)}]")
    if possible is None or possible.anything:
        return None
    if possible.text and _is_text(value):
        return None
    if any(_same_value(value, named) for named in possible.named):
        return None
    named = ", ".join(_yaml_text(v) for v in possible.named)
    if possible.text:
        hint = f'write the value as text: value: "{_plain_text(value)}"'
        if named:
            hint += f", or one of the values its mappings set: {named}"
        hint += " (a custom action that sets the slot to it is not seen here)"
        return ("which it never holds: its mappings set it from an entity or the "
                "message's text, and it keeps the text as set", hint)
    return (f"which none of its mappings sets (they set {named or 'nothing'})",
            "use one of the values its mappings set (a custom action that sets the slot "
            "to it is not seen here)")


def _is_text(value: Any) -> bool:
    """Whether ``value`` is text, or a list of text (what a list slot holds)."""
    if isinstance(value, list):
        return all(isinstance(item, str) for item in value)
    return isinstance(value, str)


def _same_value(expected: Any, actual: Any) -> bool:
    """Whether a condition's ``expected`` meets ``actual``, as the templates compare."""
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.casefold() == actual.casefold()
    return bool(expected == actual)


def _plain_text(value: Any) -> str:
    """How a value reads as the text an entity gives (``2.0`` as ``2``, ``True`` as
    ``true``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _yaml_text(value: Any) -> str:
    """``value`` as written in YAML: text quoted, numbers and true/false bare."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_text(v) for v in value) + "]"
    return _plain_text(value)


class _ConditionPositions:
    """Where each response condition is written: the domain files read again, with
    positions (the domain keeps a response's position, not its conditions')."""

    def __init__(self) -> None:
        self._files: dict[str, Any] = {}

    def find(self, response: ResponseDef, variation: dict[str, Any],
             index: int) -> Position | None:
        """The position of condition ``index`` of ``variation``, or None when unknown."""
        file = response.position.file if response.position is not None else None
        if not file:
            return None
        if file not in self._files:
            try:
                self._files[file] = read_yaml_file(file)
            except (DialogflowLiteError, OSError):
                self._files[file] = None
        written = self._files[file]
        responses = written.get("responses") if isinstance(written, dict) else None
        variations = responses.get(response.name) if isinstance(responses, dict) else None
        if not isinstance(variations, list):
            return None
        for node in variations:
            if isinstance(node, dict) and to_plain(node) == variation:
                condition = node.get("condition")
                if isinstance(condition, list) and index < len(condition):
                    return yaml_position(file, condition, index)
                return yaml_position(file, node, "condition")
        return None


def slot_value_misfit(slot: SlotDef, value: Any) -> tuple[str, str] | None:
    """Why ``slot`` cannot hold ``value`` and what to write instead; None when it can.

    A story setting such a value, or a response variation testing for it, does
    not mean what it says: a categorical slot takes an unknown value for
    ``__other__``, a float slot takes a word for no value, a bool slot takes a
    word other than true or false for no value and a number other than 1 for
    false.
    """
    if value is None or value == ANY_SLOT_VALUE:
        return None
    if slot.type == "categorical" and slot.values and \
            str(value).lower() not in {str(v).lower() for v in slot.values}:
        return ("which the categorical slot cannot take",
                f"use one of {', '.join(repr(v) for v in slot.values)}")
    if slot.type == "float" and (isinstance(value, bool)
                                 or not isinstance(slot.coerce(value), float)):
        return "which the float slot cannot hold, as it is no number", "write a number"
    if slot.type == "bool":
        return _bool_misfit(value)
    return None


def _bool_misfit(value: Any) -> tuple[str, str] | None:
    """Why a bool slot's features do not say what ``value`` seems to, read as Rasa's bool
    slots read it (:func:`~dialogflowlite.components.policies.states.bool_reading`)."""
    from dialogflowlite.components.policies.states import bool_reading

    reading = bool_reading(value)
    if reading is None:
        return ("which the bool slot cannot hold, as it is neither true nor false "
                "(training reads it as not set)", "write true or false")
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isnumeric():
        number = float(value)  # bool_reading read it, so float() does
    if number is not None and number not in (0, 1):
        # 2 and "2" read as false: only 1 is true
        return ("which the bool slot reads as false, as only 1 is true",
                "write true or false")
    return None


# ---------------------------------------------------------------- config


def check_components(project: Project) -> list[Problem]:
    """Each config.yml component must be installed, in its right section, with known
    settings in their ranges (its ``check_config``)."""
    from dialogflowlite.plugins.registry import get_registry

    config = project.config
    file = str(config.file or project.root / "config.yml")
    problems: list[Problem] = []
    if not any(config.section(s) for s in COMPONENT_SECTIONS):
        return problems
    try:
        registry = get_registry()
    except DialogflowLiteError as e:
        return [Problem.from_error(e, file)]
    from dialogflowlite.components.nlu.rasa_compat import translate_pipeline
    from dialogflowlite.components.policies.rasa_compat import translate_policies

    for section in COMPONENT_SECTIONS:
        components = config.section(section)
        # Rasa names become this framework's components first, as training reads
        # them (notices come at training).
        if section == "pipeline" and components:
            components = translate_pipeline(components, language=config.language, quiet=True)
            found = _component_problems(components, section, registry, file)
            problems += found
            if not any(problem.severity == "error" for problem in found):
                problems += _pipeline_order_problems(components, registry, file)
            continue
        if section == "policies" and components:
            components = translate_policies(components, quiet=True)
        problems += _component_problems(components, section, registry, file)
    return problems


def _pipeline_order_problems(components: list[ComponentConfig], registry: ComponentRegistry,
                             file: str) -> list[Problem]:
    """What training refuses in the pipeline's order (its ``check_pipeline``): a second
    tokenizer, a component before what it requires, a classifier after the fallback."""
    from dialogflowlite.components.nlu.pipeline import check_pipeline

    try:
        check_pipeline(components, [registry.get(c.name) for c in components])
    except DialogflowLiteError as e:
        problem = Problem.from_error(e, file)
        return [Problem(problem.position, "error", problem.message, problem.hint,
                        COMPONENT_WRONG_SECTION)]
    return []


def _component_problems(components: list[ComponentConfig], section: str,
                        registry: ComponentRegistry, file: str) -> list[Problem]:
    """Each component of one config.yml ``section``: installed, in the right section,
    with known settings in their ranges."""
    from dialogflowlite.components.base import (
        collecting_bad_settings,
        collecting_setting_warnings,
    )

    problems: list[Problem] = []
    for component in components:
        where = _where(component.position, fallback=file)
        try:
            cls = registry.get(component.name, where)
        except DialogflowLiteError as e:
            problems.append(Problem.from_error(e, file))
            continue
        if cls.kind not in SECTION_KINDS[section]:
            right = next((s for s, kinds in SECTION_KINDS.items() if cls.kind in kinds), None)
            problems.append(
                _error(
                    where,
                    f"component '{component.name}' is a {cls.kind} and does not belong "
                    f"under {section}:",
                    f"move it under {right}:" if right else None,
                    COMPONENT_WRONG_SECTION,
                )
            )
            continue
        try:
            # the checks the component's __init__ makes, without building it, in one
            # error: unknown keys and out-of-range values are fixed in one go
            with collecting_setting_warnings() as doubtful, \
                    collecting_bad_settings(cls.name, where):
                settings = cls.resolve_config(component.params, position=where)
                cls.check_config(settings, position=where)
        except DialogflowLiteError as e:
            problems.append(Problem.from_error(e, file))
        # settings read, but maybe not as meant (`flag: "yes"`): counted warnings
        problems += [Problem(w.position or where, "warning", w.message, w.hint, w.code)
                     for w in doubtful]
    return problems


def check_rule_user_turns(project: Project) -> list[Problem]:
    """A rule holds at most one user turn while RulePolicy restricts rules (its default,
    as in Rasa): training stops on a longer one."""
    from dialogflowlite.components.policies.contradictions import ALLOWED_USER_TURNS

    rule_policies = [p for p in project.config.policies if p.name == "RulePolicy"]
    # the setting read as the policy reads it (a word such as `no` is false)
    if not rule_policies or any(flag_meaning(p.params.get("restrict_rules", True)) is False
                                for p in rule_policies):
        return []
    problems = []
    for rule in project.rules:
        turns = sum(isinstance(step, (UserStep, OrStep)) for step in rule.steps)
        if turns > ALLOWED_USER_TURNS:
            problems.append(_error(
                _where(rule.position, fallback=_domain_file(project)),
                f"rule '{rule.name}' has {turns} user turns; a rule may hold at most "
                f"{ALLOWED_USER_TURNS}", "write it as a story, or set `restrict_rules: false` "
                "for RulePolicy", RULE_USER_TURNS))
    return problems


def check_rule_slot_conditions(project: Project) -> list[Problem]:
    """A rule's ``condition`` on a slot that does not influence the conversation holds
    always: no policy sees the slot (as in Rasa), so the rule fires whatever its value,
    and a second rule "told apart" by it contradicts the first."""
    domain = project.domain
    problems = []
    for rule in project.rules:
        for step in rule.condition:
            if not isinstance(step, SlotStep):
                continue
            for name in step.slots:
                slot = domain.slots.get(name)
                if slot is None or slot.influence_conversation:
                    continue  # (an undeclared slot is check_story_names' to report)
                hint = ("declare `requested_slot` as a categorical slot (its values the "
                        "form's slots) with `influence_conversation: true`"
                        if name == REQUESTED_SLOT or not slot.declared else
                        f"set `influence_conversation: true` on slot '{name}', or leave the "
                        "condition out")
                problems.append(_warning(
                    _where(step.position, rule.position, fallback=_domain_file(project)),
                    f"rule '{rule.name}': the condition on slot '{name}' is ignored: the "
                    "slot does not influence the conversation, so the rule applies "
                    "whatever its value", hint, IGNORED_SLOT_CONDITION))
    return problems


def check_rules_agree(project: Project) -> list[Problem]:
    """What a rule policy checks when it trains, checked here without training: rules
    that contradict each other or a story, incomplete rules, and (where config.yml
    names no policy, so the default RulePolicy reads the rules) over-long rules.
    ``data validate`` said 0 errors, and ``train`` then stopped on them."""
    from dialogflowlite.components.policies.training import CoreSection

    if not project.rules or check_rule_user_turns(project):
        return []  # (a rule policy's check stops at an over-long rule first: DFL142)
    try:
        CoreSection().check(project)  # a no-op without a rule policy
    except RuleDataError as e:
        problem = Problem.from_error(e, _domain_file(project))
        code = RULE_USER_TURNS if "user turns" in e.message else RULES_DISAGREE
        return [Problem(problem.position, "error", problem.message, problem.hint, code)]
    except DialogflowLiteError:
        return []  # a policy's settings or the domain: check_components and others report it
    return []


def check_policy_domains(project: Project) -> list[Problem]:
    """What a policy asks of the domain (its ``check_domain``, as training calls it):
    RulePolicy's ``core_fallback_action_name`` must be an action of the domain."""
    from dialogflowlite.components.policies.rasa_compat import translate_policies
    from dialogflowlite.plugins.registry import get_registry

    file = str(project.config.file or project.root / "config.yml")
    policies = project.config.section("policies")
    if not policies:
        return []
    problems = []
    try:
        registry = get_registry()
        policies = translate_policies(policies, quiet=True)
    except DialogflowLiteError:
        return []  # check_components reports it
    for component in policies:
        where = _where(component.position, fallback=file)
        try:
            cls = registry.get(component.name, where)
            policy = cls(component.params, position=where)
        except DialogflowLiteError:
            continue  # an unknown name or bad settings: check_components reports them
        if not callable(getattr(policy, "check_domain", None)):
            continue
        try:
            policy.check_domain(project.domain)
        except DialogflowLiteError as e:
            problems.append(Problem.from_error(e, file))
            continue
        fallback = getattr(policy, "fallback_action", None)
        if getattr(policy, "predicts_fallback", False) and fallback in project.domain.responses:
            problems.append(_warning(
                where, f"{component.name}: core_fallback_action_name '{fallback}' is a "
                "response: after it the policies are asked again, as unsure as before, and "
                "the bot sends it over and over until the limit of 10 actions a message",
                "use action_default_fallback (it sends utter_default and undoes the "
                "message), or a custom action that ends with UserUtteranceReverted",
                FALLBACK_RESPONSE))
    return problems


def _pipeline_kinds(project: Project) -> set[str] | None:
    """The kinds of the components config.yml's ``pipeline:`` trains (Rasa names
    translated first), or None when a name is unknown (DFL201 reports that)."""
    from dialogflowlite.components.nlu.rasa_compat import translate_pipeline
    from dialogflowlite.plugins.registry import get_registry

    config = project.config
    try:
        registry = get_registry()
        components = translate_pipeline(config.pipeline, language=config.language, quiet=True)
        return {registry.get(component.name).kind for component in components}
    except DialogflowLiteError:
        return None


def check_retrieval_selector(project: Project) -> list[Problem]:
    """Retrieval intents (``faq/ask_hours``) need a response selector in ``pipeline:``,
    and one limited to a ``retrieval_intent`` needs that one to be among them.

    Without one the sub-intent is never predicted, so ``utter_faq`` has no
    response to send, as Rasa warns when it trains. An empty pipeline is not
    reported: the default one adds a response selector when the data needs it.
    """
    retrieval = project.nlu.retrieval_intents
    if not retrieval or not project.config.pipeline:
        return []
    kinds = _pipeline_kinds(project)
    if kinds is not None and "response_selector" in kinds:
        return _selector_intents(project, retrieval)
    if kinds is None:
        return []
    file = str(project.config.file or project.root / "config.yml")
    where = _where(_source_position(project, [file], r"^(pipeline)\s*:"), fallback=file)
    names = ", ".join(f"'{name}'" for name in retrieval)
    return [
        _warning(
            where,
            f"the training data has retrieval intents ({names}) but the pipeline has no "
            "response selector: their responses are never chosen, so the bot does not "
            "answer them",
            "add `- name: ResponseSelector` to the pipeline, after the intent classifier",
            RETRIEVAL_WITHOUT_SELECTOR,
        )
    ]


def _selector_intents(project: Project, retrieval: list[str]) -> list[Problem]:
    """A ResponseSelector whose ``retrieval_intent`` the data lacks learns nothing and
    answers no message: a warning at the component (training warns too)."""
    file = str(project.config.file or project.root / "config.yml")
    problems = []
    for component in project.config.pipeline:
        wanted = component.params.get("retrieval_intent")
        if component.name != "ResponseSelector" or wanted is None or wanted in retrieval:
            continue
        problems.append(_warning(
            _where(component.position, fallback=file),
            f"ResponseSelector's retrieval_intent '{wanted}' is none of the training data's "
            f"retrieval intents ({', '.join(retrieval)}): it learns nothing and answers no "
            "message", _suggest(str(wanted), retrieval, "name one of them, or leave the "
                                                        "setting out for all"),
            RETRIEVAL_WITHOUT_SELECTOR))
    return problems


def max_history(project: Project, override: int | None = None) -> int | None:
    """How many turns the dialogue policies look back: the largest ``max_history`` given, else 5.

    None when a dialogue policy is given ``max_history: null``: it reads the
    whole dialogue, so no shorter history bounds what it tells apart.
    ``override`` (``data validate --max-history``), when given, wins over config.yml.
    """
    if override is not None:
        if isinstance(override, bool) or not isinstance(override, int) or override < 1:
            raise ValueError(f"max_history must be a positive integer, not {override!r}")
        return override
    history_policies = [p for p in project.config.policies if p.name in HISTORY_POLICIES]
    if any("max_history" in p.params and p.params["max_history"] is None
           for p in history_policies):
        return None
    values = [
        policy.params["max_history"]
        for policy in history_policies
        if isinstance(policy.params.get("max_history"), int)
        and not isinstance(policy.params.get("max_history"), bool)
        and policy.params["max_history"] > 0
    ]
    return max(values) if values else DEFAULT_MAX_HISTORY


# ---------------------------------------------------------------- stories against each other


State = tuple


def _slot_feature(slot: SlotDef, value: Any) -> Any:
    """What a slot value contributes to the dialogue state (roughly as the policies see it)."""
    if value is None or (slot.type == "list" and value == []):
        return None
    if value == ANY_SLOT_VALUE:
        return "set"
    if slot.type == "bool":
        from dialogflowlite.components.policies.states import bool_reading

        # a value that is neither true nor false featurises as not set, as in Rasa
        return bool_reading(value)
    if slot.type == "categorical":
        lowered = {str(v).lower() for v in slot.values}
        return str(value).lower() if str(value).lower() in lowered else "__other__"
    if slot.type == "float":
        try:
            return min(max(float(value), slot.min_value), slot.max_value)
        except (TypeError, ValueError):
            return "set"
    return "set"


def dialogue_states(
    path: StoryPath, domain: Domain
) -> Iterator[tuple[State, ActionExecuted, Position | None]]:
    """For each action the bot predicts in ``path``: the state before it, the action, its step.

    The state holds what the policies see: the latest intent (or text) with
    the entities it uses, the previous action, slots that influence the
    conversation, and the active loop. Actions before anything happened (no
    user turn, no earlier action) are skipped: a conversation always starts
    by listening, so no policy is ever asked there.
    """
    intent: Any = None
    entities: tuple = ()
    previous: str | None = None
    loop: str | None = None
    slots: dict[str, Any] = {}
    for index, event in enumerate(path.events):
        if isinstance(event, UserUttered):
            name = event.intent_name
            intent = ("intent", _base_intent(name)) if name else ("text", event.text)
            definition = domain.intents.get(_base_intent(name)) if name else None
            used = []
            for entity in event.entities:
                entity_def = domain.entities.get(entity["entity"])
                if definition is not None and not definition.uses_entity(entity["entity"]):
                    continue
                if entity_def is not None and not entity_def.influence_conversation:
                    continue
                label = entity["entity"]
                for extra in ("role", "group"):
                    if entity.get(extra):
                        label += f"#{entity[extra]}"
                used.append(label)
            entities = tuple(sorted(set(used)))
        elif isinstance(event, SlotSet):
            slot = domain.slots.get(event.name)
            if slot is not None and slot.influence_conversation:
                slots[event.name] = _slot_feature(slot, event.value)
        elif isinstance(event, ActiveLoop):
            loop = event.name
        elif isinstance(event, ActionExecuted):
            if intent is not None or previous is not None:
                state = (
                    intent,
                    entities,
                    previous,
                    loop,
                    tuple(sorted((k, v) for k, v in slots.items() if v is not None)),
                )
                yield state, event, path.event_positions[index]
            previous = event.action_text or event.name


def _describe_state(state: State) -> str:
    intent, entities, previous, loop, slots = state
    parts = []
    if intent is not None:
        kind, value = intent
        parts.append(
            f"user {kind} '{value}'" + (f" with {', '.join(entities)}" if entities else "")
        )
    if previous is not None:
        parts.append(f"previous action '{previous}'")
    if loop:
        parts.append(f"active form '{loop}'")
    if slots:
        parts.append("slots " + ", ".join(f"{k}={v}" for k, v in slots))
    return ", ".join(parts) or "the start of the conversation"


def _does(action: ActionExecuted) -> str:
    if action.name == ACTION_LISTEN:
        return "waits for the user"
    return f"runs '{action.action_text or action.name}'"


def check_contradicting_stories(project: Project, *, history: int | None = None) -> list[Problem]:
    """Two stories with the same last ``max_history`` states must continue with the same action.

    Stories are expanded into linear paths (checkpoints joined, ``or`` steps
    split) first; ``max_history`` comes from the policies in config.yml (the
    longest story's length for ``max_history: null``), or from ``history`` when
    given.
    """
    if not project.stories:
        return []
    history = max_history(project, history)
    expansion = expand_stories(project.stories, domain=project.domain, max_paths=MAX_CHECKED_PATHS)
    if history is None:
        # a whole-dialogue policy: the longest story's states are all there is to compare
        history = max((sum(1 for _ in dialogue_states(path, project.domain))
                       for path in expansion.paths), default=1) or 1
    problems: list[Problem] = []
    if expansion.truncated:
        first = project.stories[0]
        problems.append(
            _warning(
                _where(first.position, fallback="data"),
                f"the stories expand into more than {MAX_CHECKED_PATHS} conversations; only the "
                "first ones were checked for contradictions",
                "use fewer `or` steps or checkpoints",
                STORY_PATHS_TRUNCATED,
            )
        )
    seen: dict[tuple, dict[str, tuple[StoryPath, ActionExecuted, Position | None]]] = defaultdict(
        dict
    )
    reported: set[tuple] = set()
    for path in expansion.paths:
        states: list[State] = []
        for state, action, where in dialogue_states(path, project.domain):
            states.append(state)
            key = (
                tuple(states[-history:])
                if len(states) >= history
                else (None,) * (history - len(states)) + tuple(states)
            )
            target = action.action_text or action.name
            known = seen[key]
            if target in known:
                continue
            for other_target, (other, other_action, other_where) in known.items():
                pair = (other_where, where, other_target, target)
                if pair in reported:
                    continue
                reported.add(pair)
                problems.append(
                    _error(
                        _where(where, path.position, fallback="data"),
                        f"story '{path.name}' contradicts story '{other.name}' "
                        f"({_where(other_where, other.position, fallback='data')}): after the "
                        f"same last {history} turn(s), ending with {_describe_state(state)}, "
                        f"this one {_does(action)}, the other {_does(other_action)}",
                        "make the stories differ before this point (for example by an intent or a "
                        "slot), or make them agree",
                        CONTRADICTING_STORIES,
                    )
                )
            known[target] = (path, action, where)
    return problems


def check_checkpoints(project: Project) -> list[Problem]:
    """Checkpoints should join: every start checkpoint ended by some story, and vice versa."""
    unsatisfied, unused = unjoined_checkpoints(project.stories)
    problems = []
    for checkpoint in unsatisfied:
        problems.append(
            _warning(
                _where(checkpoint.position, fallback="data"),
                f"no story ends with checkpoint '{checkpoint.name}', so the story starting there "
                "is read as starting a conversation",
                "end another story with this checkpoint, or check its spelling",
                CHECKPOINT_NOT_JOINED,
            )
        )
    for checkpoint in unused:
        problems.append(
            _warning(
                _where(checkpoint.position, fallback="data"),
                f"no story starts with checkpoint '{checkpoint.name}', so nothing continues here",
                "start another story with this checkpoint, or remove it",
                CHECKPOINT_NOT_JOINED,
            )
        )
    return problems


# ---------------------------------------------------------------- running the checks

Check = Callable[[Project], list[Problem]]

#: the checks that read nothing but the domain and the stories (:class:`StoriesAlone`)
STORY_CHECKS: tuple[Callable[[Project | StoriesAlone], list[Problem]], ...] = (
    check_story_intents,
    check_story_actions,
    check_utter_steps,
    check_story_slots,
    check_story_loops,
    check_story_entities,
)

#: every check, in the order it runs
CHECKS: tuple[Check, ...] = (
    check_story_intents,
    check_story_actions,
    check_story_slots,
    check_story_slot_values,
    check_story_loops,
    check_story_entities,
    check_utter_responses,
    check_annotated_entities,
    check_duplicate_examples,
    check_nlu_intents_in_domain,
    check_intents_without_examples,
    check_single_intent,
    check_retrieval_responses,
    check_regexes,
    check_synonyms,
    check_intent_entities,
    check_mapping_entities,
    check_mapping_intents,
    check_mapping_conditions,
    check_form_slots,
    check_form_questions,
    check_interruptions_fill_slots,
    check_unused_responses,
    check_unused_intents,
    check_duplicate_story_names,
    check_response_conditions,
    check_button_payloads,
    check_checkpoints,
    check_contradicting_stories,
    check_components,
    check_policy_domains,
    check_rule_user_turns,
    check_rule_slot_conditions,
    check_rules_agree,
    check_retrieval_selector,
    check_pair_files,
    check_generator_inputs,
    check_generate_action,
)


#: the checks of ``data validate stories``: the stories against each other
STORY_STRUCTURE_CHECKS: tuple[Check, ...] = (check_checkpoints, check_contradicting_stories)


#: the checks that do not read the domain: the only ones run when it could not be read
DOMAIN_FREE_CHECKS: tuple[Check, ...] = (
    check_duplicate_examples,
    check_regexes,
    check_synonyms,
    check_duplicate_story_names,
    check_checkpoints,
    check_components,
    check_pair_files,
)

#: the loader's code for a file that could not be parsed at all
_UNREADABLE = YamlSyntaxError.code


#: the checks that report what the training data lacks (an intent without examples,
#: a response or intent no story uses, a checkpoint no story joins): not run when a
#: training-data file could not be read, since that file may hold what they miss
ABSENCE_CHECKS: tuple[Check, ...] = (
    check_intents_without_examples,
    check_unused_responses,
    check_unused_intents,
    check_checkpoints,
)


def unreadable_files(project: Project) -> tuple[list[Problem], list[Problem]]:
    """The loader's errors for files that could not be read at all: those of domain
    files (with a domain that is missing or declares nothing), and those of
    training-data files (under ``data/``, given with ``--data``, or of an imported
    project). What such a file declares is missing from the project. Config, test,
    endpoints and credentials files, the imported projects' included, are neither:
    what they hold is not what the checks look for."""
    domain_files = {Path(f).resolve() for f in _domain_files(project)}
    training_files = {Path(f).resolve() for f in project.training_files}
    domain, data = [], []
    for problem in project.problems:
        if problem.is_error and problem.code == NO_DOMAIN:
            domain.append(problem)
            continue
        if not problem.is_error or problem.code != _UNREADABLE:
            continue
        path = project.file_of(problem)
        if path in domain_files:
            domain.append(problem)
        elif path in training_files:
            data.append(problem)
    return domain, data


def _checks_to_run(project: Project, checks: Sequence[Check]) -> tuple[list[Check],
                                                                        list[Problem]]:
    """``checks`` without those a file that could not be read would make report
    what is not missing; and a note for each reason checks were left out."""
    domain, data = unreadable_files(project)
    chosen, notes = list(checks), []
    if domain:
        skipped = [c for c in chosen if c not in DOMAIN_FREE_CHECKS]
        chosen = [c for c in chosen if c in DOMAIN_FREE_CHECKS]
        if skipped:
            reason = ("there is no domain" if domain[0].code == NO_DOMAIN
                      else "a domain file could not be read")
            notes.append(_warning(
                domain[0].position,
                f"the data was not checked against the domain: {reason} "
                f"({len(skipped)} checks skipped)",
                "fix the domain, then validate again", CHECKS_SKIPPED))
    if data:
        skipped = [c for c in chosen if c in ABSENCE_CHECKS]
        chosen = [c for c in chosen if c not in ABSENCE_CHECKS]
        if skipped:
            notes.append(_warning(
                data[0].position,
                "unused intents and responses, intents without examples and unjoined "
                "checkpoints were not looked for: a training-data file could not be read",
                "fix the file, then validate again", CHECKS_SKIPPED))
    return chosen, notes


def _sort_key(problem: Problem) -> tuple:
    where = problem.position
    return (where.file, where.line or 0, where.col or 0)


def validate_project(
    project: Project,
    *,
    include_loader_problems: bool = True,
    checks: Sequence[Check] = CHECKS,
    max_history: int | None = None,
) -> list[Problem]:
    """Run ``checks`` (default: every check) on ``project``; the problems sorted by file and line.

    With ``include_loader_problems`` the loader's findings (YAML syntax,
    unknown keys, malformed annotation, ...) are part of the result; the
    trainer passes False because it reports ``project.problems`` itself.
    A finding the loader already made is not repeated. ``max_history``
    replaces config.yml's in the contradiction check (``--max-history``).

    When a domain file could not be read, the checks that compare the data
    with the domain are not run: against a domain missing that file's
    declarations they would report every intent, response and slot it
    declares as missing, burying the one error that matters. When a
    training-data file could not be read, the checks for what the data lacks
    are not run, for the same reason. A warning (DFL136) says which were left
    out.
    """
    loader = list(project.problems)
    already = {(p.severity, p.message) for p in loader}
    checks, found = _checks_to_run(project, checks)
    for check in checks:
        if check is check_contradicting_stories:
            results = check_contradicting_stories(project, history=max_history)
        else:
            results = check(project)
        for problem in results:
            if (problem.severity, problem.message) not in already and problem not in found:
                found.append(problem)
    problems = (loader if include_loader_problems else []) + found
    return sorted(problems, key=_sort_key)


def summary(project: Project, problems: list[Problem]) -> str:
    """One line: how many errors and warnings, and what the project holds."""
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    counts = project.counts()
    held = ", ".join(
        f"{counts[key]} {label}"
        for key, label in (
            ("intents", "intents"),
            ("examples", "examples"),
            ("entities", "entities"),
            ("slots", "slots"),
            ("forms", "forms"),
            ("responses", "responses"),
            ("stories", "stories"),
            ("rules", "rules"),
            ("test_stories", "test stories"),
        )
    )
    return f"{errors} error(s), {warnings} warning(s) in {project.root}: {held}"
