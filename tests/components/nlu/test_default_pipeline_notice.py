"""A config without a pipeline trains the default one, and says so (as for policies)."""

from __future__ import annotations

import logging

from dialogflowlite.components.nlu.rasa_compat import prepare_pipeline


def test_the_default_pipeline_is_named_when_none_is_configured(caplog) -> None:
    with caplog.at_level(logging.INFO):
        specs = prepare_pipeline([])
    names = [spec.name for spec in specs]
    assert f"no pipeline configured; using {', '.join(names)}" in caplog.text


def test_quietly_nothing_is_said(caplog) -> None:
    with caplog.at_level(logging.INFO):
        prepare_pipeline([], quiet=True)
    assert "no pipeline configured" not in caplog.text
