"""Braces in response strings: JSON stays as written, placeholders still fill."""

from __future__ import annotations

import logging

import pytest

from dialogflowlite.components.generation.templates import interpolate

NESTED = '{"a": {"b": {"c": 1}}}'


@pytest.mark.parametrize("text", [
    'payload {"a": {"b": 1}}',
    NESTED,
    '{"list": [{"x": {"y": 2}}]}',
    "a } b {",
])
def test_text_with_stray_braces_is_sent_as_written(text, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert interpolate(text, {"name": "Ada"}) == text
    assert caplog.records == []


def test_known_names_fill_beside_nested_json() -> None:
    assert interpolate("hi {name} " + NESTED, {"name": "Ada"}) == "hi Ada " + NESTED


def test_doubled_braces_beside_json_stay_doubled() -> None:
    # with a stray brace the text is no format string, so ``{{`` is not an escape
    text = '/inform{{"city": "{city}"}} {"raw": {"k": 1}}'
    assert interpolate(text, {"city": "Oslo"}) == '/inform{{"city": "Oslo"}} {"raw": {"k": 1}}'


def test_format_string_escapes_still_write_one_brace() -> None:
    assert interpolate('/inform{{"city": "{city}"}}', {"city": "Oslo"}) == (
        '/inform{"city": "Oslo"}')
    assert interpolate("{{ x }}", {}) == "{ x }"
