"""Rasa's example bots: memoization and rules reproduce every story and rule they learn from."""

from __future__ import annotations

import pytest

from dialogflowlite.components.policies.base import PolicyContext
from dialogflowlite.components.policies.ensemble import PolicyEnsemble
from dialogflowlite.components.policies.replay import replay_path
from dialogflowlite.components.policies.training import build_policies, training_paths
from dialogflowlite.components.policies.transformer_policy import TransformerPolicy
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.story_paths import expand_story_paths

pytestmark = pytest.mark.shared_data

PROJECTS = ["formbot", "rules", "initial_project_3x", "financial_demo"]


def memoization_and_rules(project) -> PolicyEnsemble:
    """The project's configured policies, without the transformer policy."""
    policies = [e.policy for e in build_policies(project)
                if not isinstance(e.policy, TransformerPolicy)]
    paths = training_paths(project)
    for policy in policies:
        policy.train(paths, project.domain, PolicyContext(progress=False))
    return PolicyEnsemble.from_policies(policies)


def failures(ensemble, paths, domain) -> list[str]:
    found = []
    for path in paths:
        for step in replay_path(ensemble, path, domain):
            if not step.correct:
                found.append(f"{step.position}: {path.name}: expected {step.expected}, "
                             f"got {step.predicted.action_name} ({step.predicted.policy_name})")
    return found


@pytest.mark.parametrize("name", PROJECTS)
def test_every_training_story_and_rule_is_reproduced(rasa_projects, name) -> None:
    project = load_project(rasa_projects / name, strict=False)
    ensemble = memoization_and_rules(project)
    paths = training_paths(project)
    assert paths
    assert failures(ensemble, paths, project.domain) == []


@pytest.mark.parametrize("name", ["formbot", "initial_project_3x", "financial_demo"])
def test_test_stories_pass_at_the_intent_level(rasa_projects, name) -> None:
    project = load_project(rasa_projects / name, strict=False)
    ensemble = memoization_and_rules(project)
    tests = expand_story_paths(project.test_stories, domain=project.domain)
    assert tests
    assert failures(ensemble, tests, project.domain) == []
