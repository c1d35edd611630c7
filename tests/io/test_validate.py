"""One test per validation check, each on a small broken project.

Every test asserts the message and where it points (file and line), since a
problem the user cannot find is no help.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from story_data import LONG_STORY, SHORT_STORY, stories_yaml
from validation_data import GREET_GOODBYE_NLU
from validation_data import GREET_STORIES as STORIES

from dialogflowlite import hookimpl
from dialogflowlite.components.base import NluComponent
from dialogflowlite.components.policies.base import Policy
from dialogflowlite.errors import Problem
from dialogflowlite.io.loader import ProjectSources, load_project
from dialogflowlite.io.validate import CHECKS, max_history, validate_project

DOMAIN = """
version: "3.1"
intents:
  - greet
  - inform
  - goodbye
entities:
  - city
slots:
  city:
    type: text
    mappings:
      - type: from_entity
        entity: city
responses:
  utter_greet:
    - text: Hello!
  utter_goodbye:
    - text: Bye!
  utter_ask_city:
    - text: Which city?
forms:
  city_form:
    required_slots:
      - city
"""

NLU = GREET_GOODBYE_NLU + """\
  - intent: inform
    examples: |
      - to [Berlin](city)
"""

#: uses every intent and response of the base domain, so that nothing is unused
RULES = """
version: "3.1"
rules:
  - rule: travel
    steps:
      - intent: inform
      - action: city_form
      - active_loop: city_form
  - rule: goodbye
    steps:
      - intent: goodbye
      - action: utter_goodbye
"""


@pytest.fixture
def project(write_project):
    """Write the clean base project with some parts replaced; returns its folder."""

    def write(**parts: str | dict) -> Path:
        texts = {"domain": DOMAIN, "nlu": NLU, "stories": STORIES, "rules": RULES}
        texts.update(parts)
        return write_project(**texts)

    return write


def problems(root: Path, code: str | None = None) -> list[Problem]:
    found = validate_project(load_project(root, strict=False))
    return [p for p in found if code is None or p.code == code]


def where(problem: Problem, root: Path) -> tuple[str, int | None]:
    return (Path(problem.position.file).relative_to(root).as_posix(), problem.position.line)


def test_the_base_project_is_clean(project) -> None:
    assert problems(project()) == []


def test_every_check_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "validation.md").read_text(
        encoding="utf-8"
    )
    import dialogflowlite.io.validate as validate

    codes = {
        value
        for name, value in vars(validate).items()
        if name.isupper() and isinstance(value, str) and value.startswith("DFL")
    }
    assert codes, "no codes found"
    for code in codes | {"DFL102", "DFL104", "DFL110", "DFL201", "DFL202"}:
        assert f"| {code} |" in docs, f"{code} is not in docs/validation.md"
    for check in CHECKS:
        assert check.__doc__, f"{check.__name__} has no docstring"


def _error_classes(base: type) -> list[type]:
    return [base] + [c for sub in base.__subclasses__() for c in _error_classes(sub)]


def test_a_code_means_one_thing() -> None:
    # DFL105 was both "there is no domain" and the code of `init`'s TemplateError
    import dialogflowlite.cli.init  # noqa: F401  (its errors are part of the tree)
    from dialogflowlite.errors import DialogflowLiteError, TemplateError
    from dialogflowlite.io.problems import NO_DOMAIN, UNKNOWN_KEY

    owners: dict[str, list[str]] = {}
    for cls in _error_classes(DialogflowLiteError):
        if "code" in vars(cls):
            owners.setdefault(cls.code, []).append(cls.__name__)
    assert {code: names for code, names in owners.items() if len(names) > 1} == {}
    # the loader's own problem codes belong to no exception class
    assert NO_DOMAIN not in owners and UNKNOWN_KEY not in owners
    assert TemplateError.code == "DFL107"


# ---------------------------------------------------------------- loader findings


def test_yaml_syntax_error_is_a_problem_with_line_and_column(project) -> None:
    root = project(
        stories="""
        version: "3.1"
        stories:
          - story: broken
            steps:
              - intent: greet
             - action: utter_greet
        """
    )
    [problem] = problems(root, "DFL102")
    assert problem.is_error
    assert "invalid YAML" in problem.message
    assert where(problem, root) == ("data/stories.yml", 6)
    assert problem.position.col is not None


def test_unknown_key_has_a_did_you_mean(project) -> None:
    root = project(
        domain=DOMAIN.replace(
            "    type: text\n", "    type: text\n    influence_converstion: false\n"
        )
    )
    [problem] = problems(root, "DFL110")
    assert problem.severity == "warning"
    assert problem.message == "unknown key 'influence_converstion' in slot 'city'"
    assert problem.hint == "did you mean 'influence_conversation'?"
    assert where(problem, root) == ("domain.yml", 11)


@pytest.mark.parametrize(
    ("example", "message", "col"),
    [
        ("fly to [Berlin(city)", "unclosed '['", 16),
        ('fly to [Berlin]{"entity": city}', "bad JSON in entity annotation", 35),
    ],
)
def test_malformed_annotation_points_at_the_column(project, example, message, col) -> None:
    root = project(nlu=NLU + f"      - {example}\n")
    [problem] = problems(root, "DFL104")
    assert problem.is_error
    assert problem.message.startswith(message)
    assert where(problem, root) == ("data/nlu.yml", 13)
    assert problem.position.col == col


# ---------------------------------------------------------------- stories against the domain


def test_story_with_unknown_intent_points_at_the_step(project) -> None:
    root = project(stories=STORIES + "      - intent: greeet\n      - action: utter_greet\n")
    [problem] = problems(root, "DFL111")
    assert problem.is_error
    assert problem.message == "story 'greet' uses intent 'greeet' that the domain lacks"
    assert problem.hint == "did you mean 'greet'?"
    assert where(problem, root) == ("data/stories.yml", 7)


def test_unknown_intent_in_a_test_story_is_only_a_warning(project) -> None:
    root = project(
        tests="""
        stories:
          - story: test greet
            steps:
              - user: hello
                intent: salute
              - action: utter_greet
        """
    )
    [problem] = problems(root, "DFL111")
    assert problem.severity == "warning"
    assert problem.message == "test story 'test greet' uses intent 'salute' that the domain lacks"
    assert where(problem, root) == ("tests/test_stories.yml", 4)


def test_story_with_unknown_action(project) -> None:
    root = project(stories=STORIES + "      - action: action_book_table\n")
    [problem] = problems(root, "DFL112")
    assert problem.message == "story 'greet' runs action 'action_book_table' that the domain lacks"
    assert where(problem, root) == ("data/stories.yml", 7)


def test_custom_default_form_and_validate_actions_are_known(project) -> None:
    domain = DOMAIN + "actions:\n  - action_lookup\n"
    root = project(
        domain=domain,
        stories=STORIES
        + """\
      - action: action_lookup
      - action: action_restart
      - action: city_form
      - action: validate_city_form
""",
    )
    assert problems(root) == []


def test_rule_condition_with_unknown_slot(project) -> None:
    root = project(
        rules="""
        version: "3.1"
        rules:
          - rule: greet when known
            condition:
              - slot_was_set:
                  - town: Paris
            steps:
              - intent: greet
              - action: utter_greet
        """
    )
    [problem] = problems(root, "DFL113")
    assert problem.message == "rule 'greet when known' sets slot 'town' that the domain lacks"
    assert where(problem, root) == ("data/rules.yml", 5)


def test_active_loop_of_unknown_form(project) -> None:
    root = project(stories=STORIES + "      - action: city_form\n      - active_loop: cty_form\n")
    [problem] = problems(root, "DFL114")
    assert problem.message == "story 'greet' activates form 'cty_form' that the domain lacks"
    assert problem.hint == "did you mean 'city_form'?"
    assert where(problem, root) == ("data/stories.yml", 8)


def test_two_stage_fallback_counts_as_a_loop(project) -> None:
    root = project(
        stories=STORIES + "      - action: action_two_stage_fallback\n"
        "      - active_loop: action_two_stage_fallback\n"
    )
    assert problems(root, "DFL114") == []


def test_story_entity_the_domain_lacks(project) -> None:
    root = project(
        stories=STORIES
        + """\
      - intent: inform
        entities:
          - country: France
      - action: utter_greet
"""
    )
    [problem] = problems(root, "DFL115")
    assert problem.message == "story 'greet' uses entity 'country' that the domain lacks"
    assert where(problem, root) == ("data/stories.yml", 7)


def test_utter_action_without_response_in_a_story(project) -> None:
    root = project(stories=STORIES + "      - action: utter_goodby\n")
    [problem] = problems(root, "DFL116")
    assert problem.is_error
    assert (
        problem.message == "story 'greet' runs 'utter_goodby' but no response of that name exists"
    )
    assert problem.hint.startswith("did you mean 'utter_goodbye'")
    assert where(problem, root) == ("data/stories.yml", 7)
    # Reported once, as a missing response, not also as an unknown action.
    assert problems(root, "DFL112") == []


def test_utter_action_listed_under_actions_without_response(project) -> None:
    root = project(domain=DOMAIN + "actions:\n  - action_lookup\n  - utter_thanks\n")
    [problem] = problems(root, "DFL116")
    assert problem.message == (
        "action 'utter_thanks' is listed under actions: but no response of that name exists"
    )
    assert where(problem, root) == ("domain.yml", 27)


def test_retrieval_response_action_is_known(project) -> None:
    domain = DOMAIN.replace("  - goodbye\n", "  - goodbye\n  - faq\n").replace(
        "responses:\n", "responses:\n  utter_faq/ask_price:\n    - text: Ten euros.\n"
    )
    root = project(
        domain=domain,
        nlu=NLU + "  - intent: faq/ask_price\n    examples: |\n      - how much is it\n",
        stories=STORIES + "      - intent: faq\n      - action: utter_faq\n",
    )
    assert problems(root) == []


# ---------------------------------------------------------------- NLU data


def test_annotated_entity_not_in_domain(project) -> None:
    root = project(nlu=NLU + "      - from [Paris](origin)\n      - via [Lyon](origin)\n")
    [problem] = problems(root, "DFL117")
    assert problem.severity == "warning"
    assert problem.message == (
        "entity 'origin' is annotated in 2 example(s), first 'from Paris', but the domain lacks it"
    )
    assert where(problem, root) == ("data/nlu.yml", 13)


def test_annotated_role_not_in_domain(project) -> None:
    root = project(nlu=NLU + '      - from [Paris]{"entity": "city", "role": "origin"}\n')
    [problem] = problems(root, "DFL117")
    assert "entity 'city' has the role 'origin'" in problem.message
    assert where(problem, root) == ("data/nlu.yml", 13)


def test_one_example_under_two_intents(project) -> None:
    root = project(nlu=NLU + "  - intent: inform\n    examples: |\n      - Hello\n")
    [problem] = problems(root, "DFL118")
    assert problem.severity == "warning"
    assert problem.message.startswith(
        "example 'Hello' is under intent 'inform' and also under 'greet' at "
    )
    assert problem.message.endswith("data/nlu.yml:6:9")
    assert where(problem, root) == ("data/nlu.yml", 15)


def test_nlu_intent_not_in_domain(project) -> None:
    root = project(nlu=NLU + "  - intent: thank\n    examples: |\n      - thanks\n")
    [problem] = problems(root, "DFL123")
    assert problem.severity == "warning"
    assert problem.message == "NLU examples use intent 'thank' that the domain lacks"
    assert where(problem, root) == ("data/nlu.yml", 15)


def test_intent_without_examples(project) -> None:
    domain = DOMAIN.replace(
        "  - goodbye\n", "  - goodbye\n  - thank\n  - EXTERNAL_alarm\n  - pick\n  - out_of_scope\n"
    )
    domain = domain.replace(
        "    - text: Hello!\n",
        "    - text: Hello!\n      buttons:\n        - title: pick me\n          payload: /pick\n",
    )
    root = project(domain=domain)
    [problem] = problems(root, "DFL121")
    assert problem.severity == "warning"
    assert (
        problem.message == "intent 'thank' has no NLU examples, so no message is classified as it"
    )
    assert where(problem, root) == ("domain.yml", 6)


def test_retrieval_intent_without_response(project) -> None:
    root = project(
        nlu=NLU + "  - intent: faq/ask_hours\n    examples: |\n      - when are you open\n",
        domain=DOMAIN.replace("  - goodbye\n", "  - goodbye\n  - faq\n"),
    )
    found = problems(root, "DFL122")
    assert [p.message for p in found] == [
        "retrieval intent 'faq/ask_hours' has no response 'utter_faq/ask_hours'"
    ]
    assert found[0].is_error
    assert where(found[0], root) == ("data/nlu.yml", 15)


FAQ_RULE = """\
  - rule: faq
    steps:
      - intent: faq
      - action: utter_faq
"""


def test_retrieval_response_in_a_data_file_counts(project) -> None:
    root = project(
        nlu=NLU + "  - intent: faq/ask_hours\n    examples: |\n      - when are you open\n",
        domain=DOMAIN.replace("  - goodbye\n", "  - goodbye\n  - faq\n"),
        rules=RULES + FAQ_RULE,
        files={
            "data/responses/faq.yml": """
            version: "3.1"
            responses:
              utter_faq/ask_hours:
                - text: From nine to five.
            """
        },
    )
    assert problems(root) == []


FAQ_PROJECT = {
    "nlu": NLU + "  - intent: faq/ask_hours\n    examples: |\n      - when are you open\n",
    "domain": DOMAIN.replace("  - goodbye\n", "  - goodbye\n  - faq\n"),
    "rules": RULES + FAQ_RULE,
    "files": {"data/responses/faq.yml": """
        version: "3.1"
        responses:
          utter_faq/ask_hours:
            - text: From nine to five.
        """},
}

PIPELINE_WITHOUT_SELECTOR = """
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: DIETClassifier
    epochs: 5
"""


def test_retrieval_intents_without_a_response_selector(project) -> None:
    root = project(**FAQ_PROJECT, config=PIPELINE_WITHOUT_SELECTOR)
    [problem] = problems(root, "DFL139")
    assert not problem.is_error
    assert problem.message == (
        "the training data has retrieval intents ('faq') but the pipeline has no response "
        "selector: their responses are never chosen, so the bot does not answer them"
    )
    assert "ResponseSelector" in problem.hint
    assert where(problem, root) == ("config.yml", 2)


def test_retrieval_intents_with_a_response_selector_or_the_default_pipeline(project) -> None:
    with_selector = PIPELINE_WITHOUT_SELECTOR + "  - name: ResponseSelector\n    epochs: 5\n"
    assert problems(project(**FAQ_PROJECT, config=with_selector), "DFL139") == []
    # no pipeline: the default one adds a response selector for retrieval intents
    assert problems(project(**FAQ_PROJECT, config="language: en\n"), "DFL139") == []


def test_a_response_selector_for_a_retrieval_intent_the_data_lacks(project) -> None:
    config = PIPELINE_WITHOUT_SELECTOR + "  - name: ResponseSelector\n    retrieval_intent: faqs\n"
    root = project(**FAQ_PROJECT, config=config)
    [problem] = problems(root, "DFL139")
    assert not problem.is_error
    assert problem.message == (
        "ResponseSelector's retrieval_intent 'faqs' is none of the training data's retrieval "
        "intents (faq): it learns nothing and answers no message")
    assert problem.hint == "did you mean 'faq'?"
    assert where(problem, root)[0] == "config.yml"
    right = PIPELINE_WITHOUT_SELECTOR + "  - name: ResponseSelector\n    retrieval_intent: faq\n"
    assert problems(project(**FAQ_PROJECT, config=right), "DFL139") == []


def test_a_missing_response_selector_is_logged_before_training(project, caplog) -> None:
    from dialogflowlite.training.trainer import validated_project

    root = project(**FAQ_PROJECT, config=PIPELINE_WITHOUT_SELECTOR)
    with caplog.at_level(logging.WARNING, "dialogflowlite"):
        validated_project(root)
    assert "the pipeline has no response selector" in caplog.text


def test_invalid_regex(project) -> None:
    root = project(nlu=NLU + "  - regex: zipcode\n    examples: |\n      - [0-9{5}\n")
    [problem] = problems(root, "DFL128")
    assert problem.is_error
    assert problem.message.startswith("regex 'zipcode' pattern '[0-9{5}' is not a valid")
    assert where(problem, root) == ("data/nlu.yml", 15)


def test_one_variant_as_synonym_of_two_values(project) -> None:
    root = project(
        nlu=NLU
        + """\
  - synonym: New York
    examples: |
      - NYC
  - synonym: Nice
    examples: |
      - nyc
"""
    )
    [problem] = problems(root, "DFL129")
    assert problem.message.startswith("'nyc' is a synonym of 'Nice' here but of 'New York' at ")
    assert where(problem, root) == ("data/nlu.yml", 16)


def test_a_synonym_warning_names_the_value_training_keeps(project) -> None:
    root = project(
        nlu=NLU
        + """\
      - to [nyc]{"entity": "city", "value": "New York City"}
  - synonym: NY
    examples: |
      - nyc
"""
    )
    [problem] = problems(root, "DFL129")
    trained = load_project(root, strict=False).nlu.synonym_map()
    # training reads the synonym: items first and the annotations after them, so the
    # annotation overrides the item that stands after it in the file
    assert trained["nyc"] == "New York City"
    assert problem.message.startswith("'nyc' is a synonym of 'New York City' here but of 'NY' at ")
    assert where(problem, root) == ("data/nlu.yml", 13)


def test_every_override_of_a_synonym_is_named(project) -> None:
    root = project(
        nlu=NLU
        + """\
  - synonym: New York
    examples: |
      - NYC
  - synonym: Newark
    examples: |
      - nyc
  - synonym: New York
    examples: |
      - Nyc
"""
    )
    found = problems(root, "DFL129")
    # the last warning names the value training keeps
    assert [p.message.split(" at ")[0] for p in found] == [
        "'nyc' is a synonym of 'Newark' here but of 'New York'",
        "'Nyc' is a synonym of 'New York' here but of 'Newark'",
    ]
    assert load_project(root, strict=False).nlu.synonym_map()["nyc"] == "New York"


def test_a_value_listed_as_its_own_variant_overrides_nothing(project) -> None:
    root = project(
        nlu=NLU
        + """\
  - synonym: New York
    examples: |
      - nyc
  - synonym: NYC
    examples: |
      - NYC
"""
    )
    # Rasa's EntitySynonymMapper skips `NYC` under `NYC` before it ignores case, so
    # `nyc` keeps New York and there is no conflict to warn about
    assert problems(root, "DFL129") == []
    assert load_project(root, strict=False).nlu.synonym_map() == {"nyc": "New York"}


# ---------------------------------------------------------------- domain


def test_slot_mapping_to_unknown_entity(project) -> None:
    root = project(domain=DOMAIN.replace("        entity: city\n", "        entity: town\n"))
    [problem] = problems(root, "DFL120")
    assert problem.is_error
    assert problem.message == "slot 'city' is filled from entity 'town' that the domain lacks"
    assert where(problem, root) == ("domain.yml", 12)


def test_format_2_form_mapping_to_unknown_entity(project) -> None:
    domain = """
        version: "2.0"
        intents: [greet, inform, goodbye]
        entities: [city]
        slots:
          city:
            type: text
        responses:
          utter_greet: [{text: hi}]
          utter_ask_city: [{text: Which city?}]
        forms:
          city_form:
            city:
              - type: from_entity
                entity: town
        """
    root = project(domain=domain, nlu=NLU.replace('"3.1"', '"2.0"'))
    [problem] = problems(root, "DFL120")
    assert problem.message == "slot 'city' is filled from entity 'town' that the domain lacks"
    assert where(problem, root) == ("domain.yml", 13)


def test_slot_mapping_with_unknown_intent(project) -> None:
    root = project(
        domain=DOMAIN.replace(
            "        entity: city\n", "        entity: city\n        intent: informm\n"
        )
    )
    [problem] = problems(root, "DFL126")
    assert problem.severity == "warning"
    assert "names intent 'informm' that the domain lacks" in problem.message
    assert problem.hint == "did you mean 'inform'?"
    assert where(problem, root) == ("domain.yml", 12)


def test_a_mapping_naming_a_form_as_its_intent_says_it_is_a_form(project) -> None:
    # financial_demo's `intent: [inform, cc_payment_form]`: the hint was a near intent
    root = project(domain=DOMAIN.replace(
        "        entity: city\n", "        entity: city\n        intent: city_form\n"))
    [problem] = problems(root, "DFL126")
    assert problem.hint == ("'city_form' is a form, not an intent: to apply while the form is "
                            "active, write `conditions: [{active_loop: city_form}]`")


def test_a_form_ignoring_an_unknown_intent_is_a_warning(project) -> None:
    root = project(domain=DOMAIN.replace(
        "  city_form:\n    required_slots:\n",
        "  city_form:\n    ignored_intents: [goodbye, chitchatt]\n    required_slots:\n"))
    [problem] = problems(root, "DFL126")
    assert problem.message == ("form 'city_form' ignores intent 'chitchatt' that the domain "
                               "lacks, so that entry of its ignored_intents never applies")
    lines = (root / "domain.yml").read_text(encoding="utf-8").splitlines()
    file, line = where(problem, root)
    assert file == "domain.yml" and "ignored_intents: [goodbye, chitchatt]" in lines[line - 1]


def test_form_requires_unknown_slot(project) -> None:
    root = project(domain=DOMAIN + "      - date\n")
    [problem] = problems(root, "DFL124")
    assert problem.message == "form 'city_form' requires slot 'date' that the domain lacks"
    # the item itself, not the form's name (line 22)
    assert where(problem, root) == ("domain.yml", 25)


def test_form_cannot_ask_for_a_slot(project) -> None:
    root = project(domain=DOMAIN.replace("  utter_ask_city:\n    - text: Which city?\n", ""))
    [problem] = problems(root, "DFL125")
    # Rasa trains such a form: it asks nothing for the slot and listens, which suits a
    # slot filled as the form starts or by a validation action that asks itself
    assert not problem.is_error
    assert problem.message == ("form 'city_form' has no way to ask for slot 'city': when "
                               "the form needs it, it asks nothing and listens")
    assert where(problem, root) == ("domain.yml", 20)


def test_form_may_ask_with_a_custom_action(project) -> None:
    domain = DOMAIN.replace("  utter_ask_city:\n    - text: Which city?\n", "")
    root = project(domain=domain + "actions:\n  - action_ask_city_form_city\n")
    assert problems(root, "DFL125") == []


# ---------------------------------------------------------------- stories against each other

CONTRADICTING = """
version: "3.1"
stories:
  - story: polite
    steps:
      - intent: greet
      - action: utter_greet
      - intent: goodbye
      - action: utter_goodbye
  - story: curt
    steps:
      - intent: greet
      - action: utter_greet
      - intent: goodbye
      - action: utter_greet
"""


def test_contradicting_stories_name_both_places(project) -> None:
    root = project(stories=CONTRADICTING)
    [problem] = problems(root, "DFL119")
    assert problem.is_error
    assert problem.message.startswith("story 'curt' contradicts story 'polite' (")
    assert f"{root / 'data/stories.yml'}:8:" in problem.message
    assert "this one runs 'utter_greet', the other runs 'utter_goodbye'" in problem.message
    assert where(problem, root) == ("data/stories.yml", 14)


def test_stories_that_differ_earlier_do_not_contradict(project) -> None:
    root = project(
        stories=CONTRADICTING.replace(
            "      - intent: goodbye\n      - action: utter_greet\n",
            "      - intent: inform\n      - action: utter_greet\n",
        )
    )
    assert problems(root, "DFL119") == []


def test_a_bool_slot_word_reads_as_not_set_when_stories_are_compared(project) -> None:
    # Rasa's bool slot reads "yes" as neither true nor false: its features are those of
    # an unset slot, so the policies cannot tell these stories apart
    domain = DOMAIN.replace("slots:\n", "slots:\n  flag:\n    type: bool\n"
                            "    mappings: [{type: custom}]\n", 1)
    flagged = CONTRADICTING.replace(
        "  - story: curt\n    steps:\n      - intent: greet\n",
        "  - story: curt\n    steps:\n      - intent: greet\n      - slot_was_set:\n"
        "          - flag: {}\n")
    assert len(problems(project(domain=domain, stories=flagged.format('"yes"')),
                        "DFL119")) == 1
    assert problems(project(domain=domain, stories=flagged.format("true")), "DFL119") == []


def test_contradiction_depends_on_max_history(project) -> None:
    # After the same last turn (greet -> utter_greet, then goodbye) the stories differ
    # only in what came before: an inform turn.
    stories = stories_yaml(LONG_STORY, SHORT_STORY)
    config = """
        policies:
          - name: MemoizationPolicy
            max_history: {}
        """
    short_root = project(stories=stories, config=config.replace("{}", "1"))
    assert max_history(load_project(short_root, strict=False)) == 1
    [problem] = problems(short_root, "DFL119")
    assert "after the same last 1 turn(s)" in problem.message
    long_root = project(stories=stories, config=config.replace("{}", "3"))
    assert problems(long_root, "DFL119") == []


def test_a_whole_dialogue_policy_is_not_bounded_by_a_short_history(project) -> None:
    # The stories differ only three turns back; a policy with `max_history: null`
    # sees that turn, so a shorter max_history elsewhere must not make them contradict.
    stories = """
        version: "3.1"
        stories:
          - story: informed first
            steps:
              - intent: inform
              - action: utter_ask_city
              - intent: greet
              - action: utter_greet
              - intent: goodbye
              - action: utter_goodbye
          - story: greeted first
            steps:
              - intent: greet
              - action: utter_ask_city
              - intent: greet
              - action: utter_greet
              - intent: goodbye
              - action: utter_greet
        """
    config = """
        policies:
          - name: MemoizationPolicy
            max_history: 1
          - name: {policy}
            max_history: {history}
        """
    whole = project(stories=stories,
                    config=config.format(policy="TEDPolicy", history="null"))
    assert max_history(load_project(whole, strict=False)) is None
    assert problems(whole, "DFL119") == []
    # the same stories with a bounded second policy do contradict, after 2 turns
    bounded = project(stories=stories,
                      config=config.format(policy="TEDPolicy", history="2"))
    [problem] = problems(bounded, "DFL119")
    assert "after the same last 2 turn(s)" in problem.message
    # a whole-dialogue policy still finds stories that agree on everything but the end
    same_start = stories.replace("- intent: inform", "- intent: greet")
    [problem] = problems(project(stories=same_start,
                                 config=config.format(policy="TEDPolicy", history="null")),
                         "DFL119")
    assert "'greeted first' contradicts story 'informed first'" in problem.message


def test_or_alternatives_are_checked_as_separate_stories(project) -> None:
    root = project(
        stories="""
        version: "3.1"
        stories:
          - story: either
            steps:
              - or:
                  - intent: greet
                  - intent: inform
              - action: utter_greet
          - story: inform differently
            steps:
              - intent: inform
              - action: utter_goodbye
        """
    )
    [problem] = problems(root, "DFL119")
    assert "story 'inform differently' contradicts story 'either'" in problem.message
    assert where(problem, root) == ("data/stories.yml", 12)


def test_unjoined_checkpoints_are_warnings(project) -> None:
    root = project(
        stories=STORIES
        + "      - checkpoint: greeted\n"
        + """\
  - story: later
    steps:
      - checkpoint: greetd
      - intent: goodbye
      - action: utter_goodbye
"""
    )
    found = problems(root, "DFL127")
    assert [(p.severity, p.message.split(",")[0]) for p in found] == [
        ("warning", "no story starts with checkpoint 'greeted'"),
        ("warning", "no story ends with checkpoint 'greetd'"),
    ]
    assert [where(p, root) for p in found] == [("data/stories.yml", 7), ("data/stories.yml", 10)]


# ---------------------------------------------------------------- config.yml


class KeywordCounter(NluComponent):
    """Counts keywords; exists for these tests."""

    name = "KeywordCounter"
    kind = "featurizer"
    defaults = {"keywords": [], "lowercase": True}


class PatientPolicy(Policy):
    """Always waits; exists for these tests."""

    name = "PatientPolicy"
    kind = "policy"
    defaults = {"max_history": 5}


class ValidationTestPlugin:
    @hookimpl
    def dfl_register_components(self):
        return [KeywordCounter, PatientPolicy]


def test_registered_components_with_known_settings_pass(project, register_plugin) -> None:
    register_plugin(ValidationTestPlugin(), "validation-test")
    root = project(
        config="""
        pipeline:
          - name: KeywordCounter
            keywords: [hi]
        policies:
          - name: PatientPolicy
            max_history: 3
        """
    )
    assert problems(root) == []


def test_unknown_component_at_its_config_line(project, register_plugin) -> None:
    register_plugin(ValidationTestPlugin(), "validation-test")
    root = project(
        config="""
        language: en
        pipeline:
          - name: KeywordCountr
        """
    )
    [problem] = problems(root, "DFL201")
    assert problem.is_error
    assert problem.message == "unknown component 'KeywordCountr'"
    assert "KeywordCounter" in problem.hint
    assert where(problem, root) == ("config.yml", 3)


@pytest.mark.parametrize(("pipeline", "line", "message"), [
    (["WhitespaceTokenizer", "WhitespaceTokenizer", "DIETClassifier"], 4,
     "the pipeline has two tokenizers, WhitespaceTokenizer and WhitespaceTokenizer"),
    (["RegexFeaturizer", "WhitespaceTokenizer", "DIETClassifier"], 3,
     "RegexFeaturizer needs tokens, which no component before it in the pipeline provides"),
    (["WhitespaceTokenizer", "FallbackClassifier", "DIETClassifier"], 5,
     "ScratchTransformerClassifier comes after FallbackClassifier, which must follow every "
     "intent classifier"),
    # it trained, and every message became nlu_fallback
    (["WhitespaceTokenizer", "FallbackClassifier"], 4,
     "FallbackClassifier has no intent classifier before it, so every message would become "
     "nlu_fallback"),
])
def test_a_pipeline_order_that_training_refuses_is_an_error(project, pipeline: list[str],
                                                            line: int, message: str) -> None:
    # each passed validation, and training stopped on it
    listed = "".join(f"  - name: {name}\n" for name in pipeline)
    root = project(config=f"language: en\npipeline:\n{listed}")
    errors = [p for p in problems(root) if p.is_error]
    assert [(p.message, where(p, root), p.code) for p in errors] == [
        (message, ("config.yml", line), "DFL130")]


def test_unknown_component_setting_at_its_config_line(project, register_plugin) -> None:
    register_plugin(ValidationTestPlugin(), "validation-test")
    root = project(
        config="""
        pipeline:
          - name: KeywordCounter
            lowercse: false
        """
    )
    [problem] = problems(root, "DFL202")
    assert problem.message == "component KeywordCounter has no setting 'lowercse'"
    assert problem.hint == "did you mean 'lowercase'?"
    assert where(problem, root) == ("config.yml", 2)


def test_settings_out_of_range_are_errors_before_training(project) -> None:
    # before, validation passed them and training failed (or trained silently wrong)
    root = project(
        config="""
        pipeline:
          - name: WhitespaceTokenizer
          - name: JointTransformerClassifier
            epochs: -5
          - name: FallbackClassifier
            threshold: 5
        policies:
          - name: MemoizationPolicy
            max_history: -3
          - name: TransformerPolicy
            max_history: -1
          - name: RulePolicy
            core_fallback_threshold: 0.4
        """
    )
    found = problems(root, "DFL202")
    assert [(p.message, where(p, root)[1]) for p in found] == [
        ("component JointTransformerClassifier: setting 'epochs' must be 'auto' or a whole "
         "number of at least 1, not -5", 3),
        ("component FallbackClassifier: setting 'threshold' must be a number between 0 and 1, "
         "not 5", 5),
        ("component MemoizationPolicy: setting 'max_history' must be a whole number of at "
         "least 1, not -3", 8),
        ("component TransformerPolicy: setting 'max_history' must be a whole number of at "
         "least 1, not -1", 10),
    ]
    assert all(p.is_error for p in found)
    assert found[1].hint == "for example `threshold: 0.3`"


class FussyCounter(KeywordCounter):
    """Wants at least one keyword; exists for these tests."""

    name = "FussyCounter"
    defaults = {**KeywordCounter.defaults, "least": 1}

    @classmethod
    def check_config(cls, config, *, position=None) -> None:
        super().check_config(config, position=position)
        cls.check_number(config, "least", at_least=1, whole=True, position=position)


class FussyPlugin:
    @hookimpl
    def dfl_register_components(self):
        return [FussyCounter]


def test_a_plugin_component_s_check_config_runs_without_building_it(
    project, register_plugin, monkeypatch
) -> None:
    register_plugin(FussyPlugin(), "fussy")
    built = []
    monkeypatch.setattr(FussyCounter, "__init__", lambda self, *a, **k: built.append(self))
    root = project(
        config="""
        pipeline:
          - name: FussyCounter
            least: 0
        """
    )
    [problem] = problems(root, "DFL202")
    assert problem.message == ("component FussyCounter: setting 'least' must be a whole "
                               "number of at least 1, not 0")
    assert where(problem, root) == ("config.yml", 2) and built == []


def test_component_in_the_wrong_section(project, register_plugin) -> None:
    register_plugin(ValidationTestPlugin(), "validation-test")
    root = project(
        config="""
        pipeline:
          - name: PatientPolicy
        """
    )
    [problem] = problems(root, "DFL130")
    assert problem.message == (
        "component 'PatientPolicy' is a policy and does not belong under pipeline:"
    )
    assert problem.hint == "move it under policies:"
    assert where(problem, root) == ("config.yml", 2)


def test_rasa_policies_validate_as_training_reads_them(project) -> None:
    # TEDPolicy's own settings and Rasa-only policies are notices at training, not errors.
    root = project(
        config="""
        policies:
          - name: TEDPolicy
            max_history: 5
            max_training_samples: 300
          - name: UnexpecTEDIntentPolicy
            epochs: 100
          - name: RulePolicy
        """
    )
    assert problems(root, "DFL201") == []
    assert problems(root, "DFL202") == []


def test_unknown_policy_setting_is_still_an_error(project) -> None:
    root = project(
        config="""
        policies:
          - name: RulePolicy
            core_fallback_treshold: 0.3
        """
    )
    [problem] = problems(root, "DFL202")
    assert "core_fallback_treshold" in problem.message
    assert where(problem, root) == ("config.yml", 2)


def test_every_bad_setting_of_a_component_is_one_problem(project) -> None:
    root = project(
        config="""
        policies:
          - name: TransformerPolicy
            epochs: 0
            dropout: 1.5
            num_heads: 3
        """
    )
    [problem] = problems(root, "DFL202")
    assert problem.message.split("\n") == [
        "component TransformerPolicy has 3 bad settings:",
        "- component TransformerPolicy: setting 'epochs' must be a whole number of at least 1, "
        "not 0 (hint: for example `epochs: 100`)",
        "- component TransformerPolicy: setting 'dropout' must be a number of at least 0 and "
        "below 1, not 1.5 (hint: for example `dropout: 0.1`)",
        "- component TransformerPolicy: hidden_size 64 is not a multiple of num_heads 3 "
        "(hint: make hidden_size a multiple of num_heads)",
    ]
    assert where(problem, root) == ("config.yml", 2)


def test_unknown_and_out_of_range_settings_are_one_problem(project) -> None:
    # both kinds at once, so config.yml is fixed in one round
    root = project(
        config="""
        pipeline:
          - name: WhitespaceTokenizer
          - name: FallbackClassifier
            thresold: 0.3
            threshold: 1.5
        policies:
          - name: MemoizationPolicy
            max_histroy: 3
            max_history: 0
        """
    )
    found = problems(root, "DFL202")
    assert [(p.message.split("\n"), where(p, root)[1]) for p in found] == [
        (["component FallbackClassifier has 2 bad settings:",
          "- component FallbackClassifier has no setting 'thresold' (hint: did you mean "
          "'threshold'?)",
          "- component FallbackClassifier: setting 'threshold' must be a number between 0 "
          "and 1, not 1.5 (hint: for example `threshold: 0.3`)"], 3),
        (["component MemoizationPolicy has 2 bad settings:",
          "- component MemoizationPolicy has no setting 'max_histroy' (hint: did you mean "
          "'max_history'?)",
          "- component MemoizationPolicy: setting 'max_history' must be a whole number of at "
          "least 1, not 0 (hint: for example `max_history: 5`)"], 7),
    ]


def test_ted_policy_reading_the_whole_dialogue_is_valid(project) -> None:
    # max_history: null is Rasa's TEDPolicy default: the whole dialogue
    root = project(
        config="""
        policies:
          - name: TEDPolicy
            max_history: null
            epochs: 100
          - name: TransformerPolicy
            max_history:
        """
    )
    assert problems(root, "DFL202") == []


# ---------------------------------------------------------------- running the checks


def test_loader_problems_can_be_left_out_and_are_never_repeated(project) -> None:
    root = project(
        domain=DOMAIN.replace("    type: text\n", "    type: text\n    tpye: x\n"),
        stories=STORIES + "      - action: utter_missing\n",
    )
    loaded = load_project(root, strict=False)
    everything = validate_project(loaded)
    without_loader = validate_project(loaded, include_loader_problems=False)
    assert [p.code for p in loaded.problems] == ["DFL110"]
    assert [p.code for p in without_loader] == ["DFL116"]
    assert sorted(p.code for p in everything) == ["DFL110", "DFL116"]


def test_form_of_format_2_with_unknown_slot_is_reported_once(project) -> None:
    domain = """
        version: "2.0"
        intents: [greet, inform, goodbye]
        entities: [city]
        slots:
          city:
            type: text
        responses:
          utter_greet: [{text: hi}]
          utter_ask_city: [{text: Which city?}]
        forms:
          city_form:
            town:
              - type: from_text
        """
    root = project(domain=domain)
    found = [p for p in problems(root) if "requires slot 'town'" in p.message]
    assert len(found) == 1
    assert where(found[0], root) == ("domain.yml", 12)


def test_problems_are_sorted_by_file_and_line(project) -> None:
    root = project(
        stories=STORIES + "      - action: action_nope\n      - intent: nope\n",
        domain=DOMAIN + "      - date\n",
    )
    found = problems(root)
    keys = [(p.position.file, p.position.line) for p in found]
    assert keys == sorted(keys)
    assert len(found) == 3


def test_responses_nothing_sends(project) -> None:
    domain = DOMAIN + """\
  utter_ask_city_form_country:
    - text: Which country?
"""
    domain = domain.replace("  utter_ask_city:", "  utter_default:\n    - text: Sorry?\n"
                                                  "  utter_spare:\n    - text: Unused.\n"
                                                  "  utter_ask_city:")
    root = project(domain=domain)
    [problem] = problems(root, "DFL132")
    assert not problem.is_error
    assert problem.message == "response 'utter_spare' is not used in any story or rule"
    assert "custom action" in problem.hint
    assert where(problem, root) == ("domain.yml", 21)
    # test stories do not count: the bot never learns them
    root = project(domain=domain, tests="""
    version: "3.1"
    stories:
      - story: spare
        steps:
          - intent: greet
          - action: utter_spare
    """)
    assert [p.message for p in problems(root, "DFL132")] == [problem.message]


def test_intents_nothing_uses(project) -> None:
    domain = DOMAIN.replace("  - goodbye\n", "  - goodbye\n  - chitchat\n  - EXTERNAL_alarm\n"
                                              "  - affirm\n")
    domain = domain.replace("        entity: city\n", "        entity: city\n"
                                                    "      - type: from_intent\n"
                                                    "        value: true\n"
                                                    "        intent: affirm\n")
    nlu = NLU + "  - intent: chitchat\n    examples: |\n      - how are you\n" + \
        "  - intent: affirm\n    examples: |\n      - yes\n"
    root = project(domain=domain, nlu=nlu)
    [problem] = problems(root, "DFL133")
    assert problem.message.startswith("intent 'chitchat' is not used in any story or rule")
    assert "- intent: chitchat" in problem.hint
    assert where(problem, root) == ("domain.yml", 6)
    # without the rules, the form's and the goodbye's intents are unused too
    root = project(domain=domain, nlu=nlu, rules='version: "3.1"\nrules: []\n')
    unused = sorted(p.message.split("'")[1] for p in problems(root, "DFL133"))
    assert unused == ["chitchat", "goodbye", "inform"]


def test_two_stories_of_one_name(project) -> None:
    stories = STORIES + """\
  - story: greet
    steps:
      - intent: greet
      - action: utter_greet
      - intent: goodbye
      - action: utter_goodbye
"""
    root = project(stories=stories)
    [problem] = problems(root, "DFL134")
    assert not problem.is_error
    assert problem.message == ("story name 'greet' is used twice (first at "
                               f"{root / 'data/stories.yml'}:3)")
    assert where(problem, root) == ("data/stories.yml", 7)
    # a rule of a story's name counts too; test stories are apart from both
    root = project(rules=RULES.replace("rule: goodbye", "rule: greet"), tests=STORIES)
    [problem] = problems(root, "DFL134")
    assert problem.message.startswith("rule name 'greet' is used twice (first by a story at ")


def test_response_conditions_name_slots_and_values_they_can_have(project) -> None:
    domain = DOMAIN.replace("""slots:
""", """slots:
  mood:
    type: categorical
    values: [happy, sad]
    mappings:
      - type: custom
""").replace("""  utter_goodbye:
    - text: Bye!
""", """  utter_goodbye:
    - text: Bye, happy one!
      condition:
        - type: slot
          name: mood
          value: Happy
    - text: Bye, city person!
      condition:
        - type: slot
          name: cty
          value: Berlin
    - text: Bye, grumpy!
      condition:
        - type: slot
          name: mood
          value: grumpy
    - text: Bye, new one!
      condition:
        - type: slot
          name: session_started_metadata
          value: null
    - text: Bye!
""")
    root = project(domain=domain)
    found = problems(root, "DFL135")
    assert [(p.severity, p.message) for p in found] == [
        ("error", "response 'utter_goodbye' has a condition on slot 'cty' that the domain "
                  "lacks, so that variation is never sent"),
        ("warning", "response 'utter_goodbye' has a condition on slot 'mood' with value "
                    "'grumpy', which the categorical slot cannot take, so that variation is "
                    "never sent"),
    ]
    assert found[0].hint == "did you mean 'city'?"
    # the condition's own line; session_started_metadata is a slot of Rasa's domain
    assert where(found[0], root) == ("domain.yml", 30)


def test_a_response_condition_without_type_name_or_value_is_an_error(project) -> None:
    domain = DOMAIN.replace("""  utter_goodbye:
    - text: Bye!
""", """  utter_goodbye:
    - text: Bye, no type!
      condition:
        - name: city
          value: Berlin
    - text: Bye, no value!
      condition:
        - type: slot
          name: city
    - text: Bye, VIP!
      condition: vip
    - text: Bye!
""")
    found = problems(project(domain=domain), "DFL135")
    # Rasa refuses them ("Condition must have 'type', 'name', and 'value' keys"); here a
    # condition without `value` held while the slot was unset, and `vip` never held
    assert [p.message for p in found] == [
        "response 'utter_goodbye' has a condition that is not `{type: slot, name: ..., "
        "value: ...}` (it has no `type`)",
        "response 'utter_goodbye' has a condition that is not `{type: slot, name: ..., "
        "value: ...}` (it has no `value`)",
        "response 'utter_goodbye' has a condition that is not `{type: slot, name: ..., "
        "value: ...}`",
    ]
    assert all(p.is_error for p in found)


TYPED_SLOTS = """slots:
  mood:
    type: categorical
    values: [happy, sad]
    mappings: [{type: custom}]
  level:
    type: float
    mappings: [{type: custom}]
  flag:
    type: bool
    mappings: [{type: custom}]
"""


def test_slot_was_set_values_a_slot_cannot_hold_are_warnings(project) -> None:
    rules = RULES + """  - rule: moods
    condition:
      - slot_was_set:
          - flag: maybe
    steps:
      - intent: greet
      - slot_was_set:
          - mood: angry
          - level: high
          - flag: "yes"
      - action: utter_greet
  - rule: fine values
    condition:
      - slot_was_set:
          - mood: Happy
          - level
    steps:
      - intent: greet
      - slot_was_set:
          - level: 0.5
          - flag: true
          - mood: null
      - action: utter_greet
"""
    stories = STORIES + """  - story: joined
    steps:
      - checkpoint: later
        slot_was_set:
          - level: "7"
          - flag: 2
      - action: utter_greet
"""
    root = project(domain=DOMAIN.replace("slots:\n", TYPED_SLOTS, 1), rules=rules,
                   stories=stories)
    found = problems(root, "DFL138")
    assert [(where(p, root), p.severity, p.message, p.hint) for p in found] == [
        (("data/rules.yml", 14), "warning", "rule 'moods' sets slot 'flag' to 'maybe', which "
         "the bool slot cannot hold, as it is neither true nor false (training reads it as "
         "not set)", "write true or false"),
        (("data/rules.yml", 18), "warning", "rule 'moods' sets slot 'mood' to 'angry', which "
         "the categorical slot cannot take", "use one of 'happy', 'sad'"),
        (("data/rules.yml", 18), "warning", "rule 'moods' sets slot 'level' to 'high', which "
         "the float slot cannot hold, as it is no number", "write a number"),
        # Rasa's bool slot reads "yes" as no truth value and 2 as false
        (("data/rules.yml", 18), "warning", "rule 'moods' sets slot 'flag' to 'yes', which "
         "the bool slot cannot hold, as it is neither true nor false (training reads it as "
         "not set)", "write true or false"),
        (("data/stories.yml", 9), "warning", "story 'joined' sets slot 'flag' to 2, which the "
         "bool slot reads as false, as only 1 is true", "write true or false"),
    ]
    # A response condition compares values as set: a custom action may set a float slot
    # to "high", so only the categorical slot's own list of values counts (DFL135)
    domain = DOMAIN.replace("slots:\n", TYPED_SLOTS, 1).replace("""  utter_goodbye:
    - text: Bye!
""", """  utter_goodbye:
    - text: Bye, high flyer!
      condition: [{type: slot, name: level, value: high}]
    - text: Bye, flagged one!
      condition: [{type: slot, name: flag, value: "true"}]
    - text: Bye, angry one!
      condition: [{type: slot, name: mood, value: angry}]
    - text: Bye!
""")
    root = project(domain=domain)
    [condition] = problems(root, "DFL135")
    assert condition.message == ("response 'utter_goodbye' has a condition on slot 'mood' "
                                 "with value 'angry', which the categorical slot cannot take, "
                                 "so that variation is never sent")
    assert where(condition, root) == ("domain.yml", 33)  # the condition's own line
    assert problems(root, "DFL140") == []


CONDITION_SLOTS = """slots:
  count:
    type: float
    initial_value: 0
    mappings: [{type: from_entity, entity: count}]
  vip:
    type: bool
    mappings:
      - {type: from_intent, intent: greet, value: true}
      - {type: from_intent, intent: goodbye, value: false}
  note:
    type: text
    mappings: [{type: from_text}]
  tags:
    type: list
    mappings: [{type: from_entity, entity: city}]
  level:
    type: float
    mappings: [{type: custom}]
  amount:
    type: float
    mappings: [{type: from_entity, entity: amount}]
"""

CONDITION_RESPONSES = """  utter_goodbye:
    - text: Bye, two!
      condition: [{type: slot, name: count, value: 2}]
    - text: Bye, two as said!
      condition: [{type: slot, name: count, value: "2"}]
    - text: Bye, nothing counted!
      condition: [{type: slot, name: count, value: 0}]
    - text: Bye, friend!
      condition:
        - {type: slot, name: vip, value: true}
        - {type: slot, name: vip, value: "true"}
    - text: Bye, three!
      condition: [{type: slot, name: note, value: 3}]
    - text: Bye, red!
      condition: [{type: slot, name: tags, value: red}]
    - text: Bye, only red!
      condition: [{type: slot, name: tags, value: [red]}]
    - text: Bye, custom!
      condition: [{type: slot, name: level, value: 2}]
    - text: Bye, five!
      condition: [{type: slot, name: amount, value: 5}]
    - text: Bye, six!
      condition: [{type: slot, name: amount, value: 6}]
    - text: Bye!
      buttons:
        - {title: five, payload: '/inform{{"amount": 5}}'}
"""


def condition_domain() -> str:
    return (DOMAIN.replace("slots:\n", CONDITION_SLOTS, 1)
            .replace("entities:\n  - city\n", "entities:\n  - city\n  - count\n  - amount\n")
            .replace("  utter_goodbye:\n    - text: Bye!\n", CONDITION_RESPONSES))


def test_a_condition_value_the_mappings_never_set_is_a_warning(project) -> None:
    root = project(domain=condition_domain())
    found = problems(root, "DFL140")
    lines = {line: number for number, line in enumerate(
        (root / "domain.yml").read_text(encoding="utf-8").splitlines(), start=1)}

    def line_of(text: str) -> int:
        return next(number for line, number in lines.items() if text in line)

    assert [(where(p, root), p.severity, p.message, p.hint) for p in found] == [
        # an entity's value is text: the slot holds "2", which 2 never meets
        (("domain.yml", line_of("name: count, value: 2}")), "warning",
         "response 'utter_goodbye' has a condition on slot 'count' with value 2, which it "
         "never holds: its mappings set it from an entity or the message's text, and it "
         "keeps the text as set, so that variation is never sent",
         'write the value as text: value: "2", or one of the values its mappings set: 0 '
         "(a custom action that sets the slot to it is not seen here)"),
        # from_intent mappings set true and false as written, never the text "true"
        (("domain.yml", line_of('name: vip, value: "true"}')), "warning",
         "response 'utter_goodbye' has a condition on slot 'vip' with value 'true', which "
         "none of its mappings sets (they set true, false), so that variation is never sent",
         "use one of the values its mappings set (a custom action that sets the slot to it "
         "is not seen here)"),
        (("domain.yml", line_of("name: note, value: 3}")), "warning",
         "response 'utter_goodbye' has a condition on slot 'note' with value 3, which it "
         "never holds: its mappings set it from an entity or the message's text, and it "
         "keeps the text as set, so that variation is never sent",
         'write the value as text: value: "3" (a custom action that sets the slot to it is '
         "not seen here)"),
        # a list slot holds ["red"]
        (("domain.yml", line_of("name: tags, value: red}")), "warning",
         "response 'utter_goodbye' has a condition on slot 'tags' with value 'red', which the "
         "list slot never holds, as it keeps a list of what it is set to, so that variation "
         "is never sent", 'write the value as a list: value: ["red"]'),
        # the button sends 5 as a number; nothing sends 6
        (("domain.yml", line_of("name: amount, value: 6}")), "warning",
         "response 'utter_goodbye' has a condition on slot 'amount' with value 6, which it "
         "never holds: its mappings set it from an entity or the message's text, and it "
         "keeps the text as set, so that variation is never sent",
         'write the value as text: value: "6", or one of the values its mappings set: 5 '
         "(a custom action that sets the slot to it is not seen here)"),
    ]


def test_a_condition_is_not_judged_where_something_else_may_set_the_value(project) -> None:
    domain = condition_domain()
    # a validation action the domain declares may set the form's slots to anything
    validated = domain.replace("      - city\n", "      - city\n      - note\n").replace(
        "forms:", "actions:\n  - validate_city_form\nforms:")
    root = project(domain=validated)
    assert "note" not in {p.message.split("'")[3] for p in problems(root, "DFL140")}
    # a button whose payload writes a slot's value unquoted may send any number; quoted,
    # it sends text
    placeholders = domain.replace(
        """        - {title: five, payload: '/inform{{"amount": 5}}'}\n""",
        """        - {title: five, payload: '/inform{{"amount": 5}}'}\n"""
        """        - {title: more, payload: '/inform{{"amount": {level}}}'}\n"""
        """        - {title: count, payload: '/inform{{"count": "{note}"}}'}\n""")
    assert placeholders != domain
    slots = [p.message.split("'")[3] for p in problems(project(domain=placeholders), "DFL140")]
    assert slots == ["count", "vip", "note", "tags"]
    # Duckling's values are numbers: an entity's value need not be text
    root = project(domain=domain, config=CONFIG_WITH_DUCKLING)
    assert [p.message.split("'")[3] for p in problems(root, "DFL140")] == ["vip", "note", "tags"]


CONFIG_WITH_DUCKLING = """
version: "3.1"
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: DucklingEntityExtractor
    url: http://localhost:8000
policies:
  - name: RulePolicy
"""


def test_a_domain_that_cannot_be_read_is_one_error_not_a_cascade(project) -> None:
    clean = problems(project())
    root = project(domain=DOMAIN.replace("intents:", "intents:\n\t- oops", 1))
    found = problems(root)
    # the YAML error, the note that the domain checks were skipped, and what the
    # checks that do not read the domain find (the same as in the clean project)
    assert [(p.code, p.severity) for p in found[:2]] == [("DFL102", "error"),
                                                         ("DFL136", "warning")]
    assert where(found[0], root) == where(found[1], root) == ("domain.yml", 3)
    assert "a domain file could not be read" in found[1].message
    assert found[2:] == []
    assert not any(p.code in ("DFL111", "DFL116", "DFL123") for p in found)
    assert clean == []
    # a project whose domain reads gets every check, and no note
    assert problems(project(), "DFL136") == []


@pytest.mark.parametrize(("domain", "given", "message"), [
    (None, None, "the project has no domain"),
    ("", None, "the domain file domain.yml is empty"),
    ("# intents: [greet]\n", None, "the domain file domain.yml is empty"),
    (DOMAIN, "nosuch", "the domain nosuch does not exist"),
    (DOMAIN, "data/nlu.yml", "data/nlu.yml is no domain file: it declares none of intents, "
                             "entities, slots, responses, actions, forms"),
])
def test_a_missing_domain_is_one_error_not_a_cascade(project, domain, given,
                                                     message) -> None:
    # before, the one error stood among an error or warning for every intent, action
    # and response the data names
    root = project(domain=domain)
    sources = ProjectSources(domain=given) if given else None
    found = validate_project(load_project(root, strict=False, sources=sources))
    errors = [p for p in found if p.is_error]
    assert [(p.code, p.message) for p in errors] == [("DFL105", message)]
    [note] = [p for p in found if p.code == "DFL136"]
    assert note.message.startswith("the data was not checked against the domain: there is "
                                   "no domain (")
    assert {p.code for p in found} <= {"DFL105", "DFL136", "DFL110"}


def test_a_domain_folder_that_declares_nothing_is_no_domain(project) -> None:
    root = project(domain=None, files={"domain/empty.yml": "version: '3.1'\n"})
    assert [p.message for p in problems(root) if p.is_error] == [
        "the domain folder domain declares none of intents, entities, slots, responses, "
        "actions, forms"]
    (root / "domain" / "more.yml").write_text("intents: [greet]\n", encoding="utf-8")
    assert problems(root, "DFL105") == []


def test_a_data_file_that_cannot_be_read_hides_nothing_as_unused(project) -> None:
    # without the stories file, every intent and response would look unused
    root = project(stories="stories:\n- story: [x\n")
    found = problems(root)
    assert [(p.code, where(p, root)[0]) for p in found] == [
        ("DFL102", "data/stories.yml"), ("DFL136", "data/stories.yml")]
    assert "unused intents and responses" in found[1].message
    # the checks against the domain still run: a rule that names an unknown action
    root = project(stories="stories:\n- story: [x\n",
                   rules=RULES.replace("utter_goodbye", "utter_goodby", 1))
    assert "DFL116" in {p.code for p in problems(root)}


def test_a_mapping_condition_on_a_form_or_slot_the_domain_lacks(project) -> None:
    domain = DOMAIN.replace("responses:", """  note:
    type: text
    mappings:
    - type: from_text
      conditions:
      - active_loop: city_frm
        requested_slot: nots
responses:""", 1)
    root = project(domain=domain)
    found = [p for p in problems(root, "DFL126") if "applies only while" in p.message]
    assert [p.message.split(", which")[0] for p in found] == [
        "a mapping of slot 'note' applies only while form 'city_frm' is active",
        "a mapping of slot 'note' applies only while slot 'nots' is requested"]
    assert found[0].hint == "did you mean 'city_form'?"


def test_a_message_a_rule_answers_during_a_form_would_become_a_slot_value(project) -> None:
    # the form takes the whole answer as the city (from_text), and a rule answers a
    # greeting during the form: a "hi" while the form asks would become the city
    domain = DOMAIN.replace("""      - type: from_entity
        entity: city
""", """      - type: from_entity
        entity: city
      - type: from_text
        not_intent: [goodbye]
        conditions:
          - active_loop: city_form
            requested_slot: city
""", 1)
    interruption = RULES + """  - rule: greet during the form
    condition:
      - active_loop: city_form
    steps:
      - intent: greet
      - action: utter_greet
      - action: city_form
      - active_loop: city_form
"""
    root = project(domain=domain, rules=interruption)
    [problem] = problems(root, "DFL137")
    assert problem.severity == "warning"
    assert where(problem, root) == ("domain.yml", 14)
    assert "intent 'greet', which rule 'greet during the form'" in problem.message
    assert problem.hint == "add 'greet' to the mapping's not_intent"
    # left out by the mapping: nothing to report
    fixed = domain.replace("not_intent: [goodbye]", "not_intent: [goodbye, greet]")
    assert problems(project(domain=fixed, rules=interruption), "DFL137") == []
    # a mapping limited to other intents does not apply; one that lists the intent does
    only = domain.replace("not_intent: [goodbye]", "intent: [inform]")
    assert problems(project(domain=only, rules=interruption), "DFL137") == []
    listed = domain.replace("not_intent: [goodbye]", "intent: [inform, greet]")
    [problem] = problems(project(domain=listed, rules=interruption), "DFL137")
    assert problem.hint == "remove 'greet' from the mapping's intent list"


def test_a_message_a_story_answers_during_a_form_would_become_a_slot_value(project) -> None:
    domain = DOMAIN.replace("""      - type: from_entity
        entity: city
""", """      - type: from_entity
        entity: city
      - type: from_text
        conditions:
          - active_loop: city_form
""", 1)

    def story(*steps: str) -> str:
        return STORIES + "  - story: travel with a detour\n    steps:\n" + "".join(
            f"      - {step}\n" for step in steps)

    form = ("intent: inform", "action: city_form", "active_loop: city_form")
    # greet during the form, answered by utter_greet, then back to the form
    detour = story(*form, "intent: greet", "slot_was_set: [city]", "action: utter_greet",
                   "action: city_form", "active_loop: city_form")
    root = project(domain=domain, stories=detour)
    [problem] = problems(root, "DFL137")
    assert "intent 'greet', which story 'travel with a detour'" in problem.message
    assert problem.hint == "add 'greet' to the mapping's not_intent"
    # the same turn as one of several alternatives
    either = detour.replace("      - intent: greet\n",
                            "      - or:\n        - intent: greet\n        - intent: goodbye\n")
    assert [p.message.split("intent '")[1][:4] for p in problems(
        project(domain=domain, stories=either), "DFL137")] == ["gree", "good"]
    # answered by the form itself: the message is the form's answer, not an interruption
    answered = story(*form, "intent: greet", "action: city_form", "active_loop: city_form")
    assert problems(project(domain=domain, stories=answered), "DFL137") == []
    # after the form has ended, or after a checkpoint, no form is known to be active
    ended = story(*form, "active_loop: null", "intent: greet", "action: utter_greet")
    assert problems(project(domain=domain, stories=ended), "DFL137") == []
    joined = story(*form, "checkpoint: later", "intent: greet", "action: utter_greet")
    assert problems(project(domain=domain, stories=joined), "DFL137") == []
    # a turn whose text has no letter or digit ("?") never fills a slot
    punctuation = detour.replace("      - intent: greet\n",
                                 '      - user: "?"\n        intent: greet\n')
    assert problems(project(domain=domain, stories=punctuation), "DFL137") == []
    worded = detour.replace("      - intent: greet\n",
                            '      - user: "hi again"\n        intent: greet\n')
    assert len(problems(project(domain=domain, stories=worded), "DFL137")) == 1
    # an intent the form ignores fills none of its slots
    ignoring = domain.replace("  city_form:\n", "  city_form:\n    ignored_intents: [greet]\n")
    assert problems(project(domain=ignoring, stories=detour), "DFL137") == []


def test_a_flag_written_as_text_is_a_counted_warning_at_its_component(project) -> None:
    # before: logged beside the count, so `--fail-on-warnings` passed it
    root = project(config="""
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: ResponseSelector
    skip_other_intents: "yes"
policies:
  - name: RulePolicy
""")
    [found] = problems(root, "DFL202")
    assert found.severity == "warning"
    assert found.message == ("component ResponseSelector: setting 'skip_other_intents' is the "
                             "text 'yes', read as true")
    assert found.hint == "write `skip_other_intents: true` (no quotes)"
    assert where(found, root) == ("config.yml", 4)  # its `- name: ResponseSelector`


def test_use_and_ignore_entities_naming_unknown_entities_are_warnings(project) -> None:
    root = project(domain=DOMAIN.replace(
        "  - inform\n", "  - inform:\n      use_entities: [cty]\n      ignore_entities: [when]\n",
        1))
    found = problems(root, "DFL141")
    assert [p.message for p in found] == [
        "intent 'inform' names entity 'cty' under use_entities, which the domain lacks, so "
        "that entry does nothing",
        "intent 'inform' names entity 'when' under ignore_entities, which the domain lacks, "
        "so that entry does nothing"]
    assert found[0].hint == "did you mean 'city'?"
    assert all(p.severity == "warning" for p in found)


def test_a_rule_policy_fallback_action_the_domain_lacks_is_an_error(project) -> None:
    # before: validate passed it and training stopped on it
    root = project(config="""
language: en
policies:
  - name: RulePolicy
    core_fallback_action_name: action_my_fallback
""")
    [problem] = problems(root, "DFL202")
    assert problem.is_error
    assert problem.message == ("RulePolicy: core_fallback_action_name 'action_my_fallback' is "
                               "not an action of the domain")
    assert where(problem, root) == ("config.yml", 3)
    declared = project(domain=DOMAIN + "actions:\n  - action_my_fallback\n", config="""
language: en
policies:
  - name: RulePolicy
    core_fallback_action_name: action_my_fallback
""")
    assert [p for p in problems(declared) if p.is_error] == []


def test_a_response_as_the_core_fallback_action_is_a_warning(project) -> None:
    config = """
language: en
policies:
  - name: RulePolicy
    core_fallback_threshold: 0.4
    core_fallback_action_name: utter_greet
"""
    root = project(config=config)
    # it ran 10 times a message: nothing undid the message, so the policies chose it again
    [problem] = problems(root, "DFL150")
    assert problem.severity == "warning"
    assert where(problem, root) == ("config.yml", 3)
    assert "'utter_greet' is a response" in problem.message
    assert "action_default_fallback" in problem.hint
    off = config + "    enable_fallback_prediction: false\n"
    assert problems(project(config=off), "DFL150") == []


TWO_TURN_RULE = RULES + """
  - rule: greet then leave
    steps:
      - intent: greet
      - action: utter_greet
      - intent: goodbye
      - action: utter_goodbye
"""


def test_a_rule_with_two_user_turns_is_an_error_while_rules_are_restricted(project) -> None:
    # before: validate passed it and training stopped on it
    config = "language: en\npolicies:\n  - name: RulePolicy\n"
    root = project(rules=TWO_TURN_RULE, config=config)
    [problem] = problems(root, "DFL142")
    assert problem.is_error
    assert problem.message == "rule 'greet then leave' has 2 user turns; a rule may hold at most 1"
    assert where(problem, root)[0] == "data/rules.yml"
    free = project(rules=TWO_TURN_RULE, config=config + "    restrict_rules: false\n")
    assert problems(free, "DFL142") == []


def test_nlu_data_of_one_intent_is_a_warning(project) -> None:
    one = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n'
    # it trained, and the classifier answered every message with greet at 1.0
    root = project(nlu=one, config="language: en\npipeline:\n  - name: WhitespaceTokenizer\n"
                                   "  - name: DIETClassifier\n")
    [problem] = problems(root, "DFL145")
    assert problem.severity == "warning"
    assert problem.message.startswith("the NLU data has one intent, 'greet'")
    assert where(problem, root) == ("data/nlu.yml", 5)  # its first example
    # no intent classifier to mislead
    root = project(nlu=one, config="language: en\npipeline:\n  - name: WhitespaceTokenizer\n"
                                   "  - name: RegexEntityExtractor\n", name="entities")
    assert problems(root, "DFL145") == []


def test_a_button_payload_whose_entities_do_not_read_is_a_warning(project, caplog) -> None:
    domain = DOMAIN.replace("responses:", """responses:
  utter_choose:
    - text: which?
      buttons:
        - title: deposit
          payload: /inform{"search_type":"deposit"}'
        - title: broken
          payload: /inform{"search_type":}
        - title: fine
          payload: /inform{"search_type":"{kind}"}""", 1)
    root = project(domain=domain)
    with caplog.at_level("WARNING"):
        found = problems(root, "DFL146")
    # only a log line said so, without a file, at every message
    start = "response 'utter_choose' has a button payload "
    assert [p.message for p in found] == [
        start + repr('/inform{"search_type":"deposit"}\'') + ": the text \"'\" after the "
        "entities' JSON is not understood and left out",
        start + repr('/inform{"search_type":}') + ": its entities are not valid JSON "
        "(Expecting value), so they are left out"]
    assert "not understood; continuing" not in caplog.text


def test_a_name_encoded_otherwise_than_the_domain_s_is_said_to_be_so(write_project) -> None:
    import unicodedata

    from dialogflowlite.io.loader import load_project
    from dialogflowlite.io.validate import validate_project

    decomposed = unicodedata.normalize("NFD", "grüßen")
    root = write_project(domain="""
        version: "3.1"
        intents: [grüßen]
        responses:
          utter_hallo: [{text: Hallo}]
        """, rules=f"""
        version: "3.1"
        rules:
        - rule: hallo
          steps:
          - intent: {decomposed}
          - action: utter_hallo
        """)
    problems = validate_project(load_project(root, strict=False))
    [missing] = [p for p in problems if "that the domain lacks" in p.message]
    # it said "did you mean 'grüßen'?", naming what printed as the same word
    assert missing.hint.startswith("'grüßen' reads the same but is encoded otherwise")


def test_contradicting_rules_are_found_by_validate_as_training_finds_them(project) -> None:
    rules = RULES + """\
  - rule: goodbye, the other way
    steps:
      - intent: goodbye
      - action: utter_greet
"""
    config = "language: en\npolicies:\n- name: RulePolicy\n"
    root = project(rules=rules, config=config)
    # validate said 0 errors, and train then stopped on them
    [problem] = problems(root, "DFL148")
    assert problem.is_error
    assert problem.message.startswith("contradicting rules or stories found:")
    assert "rule 'goodbye, the other way'" in problem.message
    assert where(problem, root)[0] == "data/rules.yml"
    # without a rule policy nothing reads the rules, and the agreeing ones pass
    assert problems(project(rules=rules, config="language: en\npolicies:\n"
                            "- name: MemoizationPolicy\n"), "DFL148") == []
    assert problems(project(config=config), "DFL148") == []
    # with no policies named, the default ones (a RulePolicy among them) read the rules
    [default] = problems(project(rules=rules, config="language: en\n"), "DFL148")
    assert default.message == problem.message


def test_a_rule_condition_no_policy_sees_is_a_warning(project) -> None:
    domain = DOMAIN.replace("""  city:
    type: text
""", """  city:
    type: text
    influence_conversation: false
""")
    rules = RULES + """\
  - rule: bye in Berlin
    condition:
      - slot_was_set:
          - city: Berlin
      - slot_was_set:
          - requested_slot: city
    steps:
      - intent: greet
      - action: utter_goodbye
"""
    root = project(domain=domain, rules=rules)
    # the rule applied whatever the slots held, without a word (and so in Rasa)
    found = problems(root, "DFL149")
    assert [(where(p, root), p.severity) for p in found] == [
        (("data/rules.yml", 14), "warning"), (("data/rules.yml", 16), "warning")]
    assert found[0].message == ("rule 'bye in Berlin': the condition on slot 'city' is "
                                "ignored: the slot does not influence the conversation, so "
                                "the rule applies whatever its value")
    assert "influence_conversation: true" in found[0].hint
    assert "categorical" in found[1].hint  # requested_slot, which the domain left undeclared
    # a slot that does influence the conversation is a condition like any other
    assert problems(project(rules=rules.replace("requested_slot", "city")), "DFL149") == []


def test_a_long_rule_under_the_default_policies_is_found_too(project) -> None:
    rules = RULES + """\
  - rule: two turns
    steps:
      - intent: greet
      - action: utter_greet
      - intent: goodbye
      - action: utter_goodbye
"""
    [problem] = problems(project(rules=rules, config="language: en\n"), "DFL142")
    assert problem.is_error and "rule 'two turns' has 2 user turns" in problem.message
