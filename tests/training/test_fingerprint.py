"""What stands for a component's code in its fingerprint."""

from __future__ import annotations

from importlib import metadata

import pluggy

from dialogflowlite.components.tokenizers.whitespace import WhitespaceTokenizer
from dialogflowlite.training.fingerprint import component_identity, fingerprint


class Unpackaged:
    """A class no installed distribution defines (this test module's)."""


def test_a_class_from_an_installed_package_names_the_package_and_its_version() -> None:
    identity = component_identity(pluggy.PluginManager)
    assert identity["class"] == f"{pluggy.PluginManager.__module__}.PluginManager"
    assert identity["package"] == f"pluggy=={metadata.version('pluggy')}"
    assert identity["revision"] == 1  # not a component: the default


def test_built_in_and_unpackaged_components_name_no_package() -> None:
    # dialogflowlite's own version is already in every fingerprint
    assert component_identity(WhitespaceTokenizer)["package"] is None
    assert component_identity(Unpackaged)["package"] is None


def test_the_revision_changes_the_fingerprint() -> None:
    next_revision = WhitespaceTokenizer.revision + 1

    class Revised(WhitespaceTokenizer):
        revision = next_revision

    before = fingerprint(component_identity(WhitespaceTokenizer))
    assert fingerprint(component_identity(WhitespaceTokenizer)) == before
    assert component_identity(Revised)["revision"] == next_revision
    assert fingerprint({**component_identity(WhitespaceTokenizer),
                        "revision": next_revision}) != before


def test_where_a_form_s_entries_are_written_is_no_part_of_the_fingerprint() -> None:
    from dialogflowlite.errors import Position
    from dialogflowlite.shared.domain import FormDef

    here = FormDef("f", ["city"], position=Position("domain.yml", 3),
                   entry_positions={"required_slots:city": Position("domain.yml", 5)})
    moved = FormDef("f", ["city"], position=Position("domain.yml", 9),
                    entry_positions={"required_slots:city": Position("domain.yml", 12)})
    assert fingerprint(here) == fingerprint(moved)
    assert fingerprint(here) != fingerprint(FormDef("f", ["town"]))
