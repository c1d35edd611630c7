"""``dialogflowlite data migrate``: a 2.0 domain rewritten in the 3.x format."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from dialogflowlite.cli.data import migrate_domain_format
from dialogflowlite.cli.main import main
from dialogflowlite.components.policies.training import (
    DEFAULT_SEED,
    build_policies,
    domain_signature,
    policy_fingerprint,
    training_paths,
)
from dialogflowlite.io.domain_migrate import domain_meaning
from dialogflowlite.io.loader import load_project

DOMAIN = """\
version: "2.0"
intents:
  - inform
entities:
  - city
slots:
  city:
    type: text
  people:
    type: float
    auto_fill: false
responses:
  utter_ask_people:
    - text: How many?
forms:
  booking_form:
    required_slots:
      people:
        - type: from_text
"""


def migrate(monkeypatch, folder: Path, *args: str) -> int:
    monkeypatch.chdir(folder)
    return main(["data", "migrate", *args])


@pytest.fixture
def project(write_project) -> Path:
    return write_project(domain=DOMAIN)


def test_the_domain_is_migrated_in_place_and_the_original_kept(
    project: Path, monkeypatch, capsys
) -> None:
    before = domain_meaning(load_project(project).domain)
    assert migrate(monkeypatch, project) == 0
    out = capsys.readouterr().out
    assert "note: domain.yml:7:3: slot 'city' was filled from the entity of the same name" in out
    assert "domain.yml -> domain.yml (1 of 1 file(s) rewritten in the 3.1 format)" in out
    assert "the original is kept at original_domain.yml" in out
    assert (project / "original_domain.yml").read_text() == DOMAIN
    migrated = (project / "domain.yml").read_text()
    assert migrated.startswith('version: "3.1"\n')
    assert "auto_fill" not in migrated
    after = load_project(project)
    assert domain_meaning(after.domain) == before
    assert after.problems == []


def test_out_writes_elsewhere_and_keeps_the_original_where_it_is(
    project: Path, monkeypatch, capsys
) -> None:
    assert migrate(monkeypatch, project, "--out", "new/domain.yml") == 0
    assert "domain.yml -> new/domain.yml" in capsys.readouterr().out
    assert (project / "domain.yml").read_text() == DOMAIN
    assert not (project / "original_domain.yml").exists()
    assert (project / "new/domain.yml").read_text().startswith('version: "3.1"')


def test_project_and_domain_options(project: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    folder = project / "domain"
    folder.mkdir()
    (project / "domain.yml").rename(folder / "main.yml")
    assert migrate(monkeypatch, tmp_path, "--project", str(project), "--domain", "domain") == 0
    assert (project / "original_domain" / "main.yml").read_text() == DOMAIN
    assert (folder / "main.yml").read_text().startswith('version: "3.1"')
    assert f"the original is kept at {project / 'original_domain'}" in capsys.readouterr().out


def test_a_3_x_domain_is_refused(project: Path, monkeypatch, capsys) -> None:
    assert migrate(monkeypatch, project) == 0
    migrated = (project / "domain.yml").read_text()
    (project / "original_domain.yml").unlink()
    assert migrate(monkeypatch, project) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: domain.yml:1:1: the domain is already in the 3.x format: "
                          "nothing to migrate")
    assert (project / "domain.yml").read_text() == migrated
    assert not (project / "original_domain.yml").exists()


def test_an_existing_backup_or_output_is_never_overwritten(
    project: Path, monkeypatch, capsys
) -> None:
    (project / "original_domain.yml").write_text("mine\n")
    assert migrate(monkeypatch, project) == 1
    assert "original_domain.yml exists already" in capsys.readouterr().err
    (project / "taken.yml").write_text("mine\n")
    assert migrate(monkeypatch, project, "--out", "taken.yml") == 1
    assert "taken.yml exists already: nothing was migrated" in capsys.readouterr().err
    assert (project / "domain.yml").read_text() == DOMAIN
    assert (project / "original_domain.yml").read_text() == "mine\n"
    assert (project / "taken.yml").read_text() == "mine\n"


def test_a_mapping_that_cannot_be_converted_is_named(
    write_project, monkeypatch, capsys
) -> None:
    root = write_project(domain=DOMAIN.replace(
        "        - type: from_text\n",
        "        - type: from_text\n          conditions: [{active_loop: other_form}]\n"))
    assert migrate(monkeypatch, root) == 1
    err = capsys.readouterr().err
    assert "error: domain.yml:19:11: a mapping of slot 'people' in 2.0 form 'booking_form' " \
        "has its own conditions" in err
    assert not (root / "original_domain.yml").exists()


def test_a_missing_domain_is_named(tmp_path: Path, monkeypatch, capsys) -> None:
    assert migrate(monkeypatch, tmp_path) == 1
    assert "has no domain.yml or domain/ folder" in capsys.readouterr().err
    assert migrate(monkeypatch, tmp_path, "--domain", "nowhere.yml") == 1
    assert "nowhere.yml does not exist" in capsys.readouterr().err


def test_the_command_is_registered(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["data", "--help"])
    assert "migrate" in capsys.readouterr().out


def test_a_migrated_rasa_project_validates_as_before(rasa_projects: Path, tmp_path: Path) -> None:
    root = shutil.copytree(rasa_projects / "formbot", tmp_path / "formbot")
    before = load_project(root, strict=False)
    echo = io.StringIO()
    assert migrate_domain_format(root, echo=echo) == root / "domain.yml"
    # every formbot slot has a type and auto_fill: false, so there is nothing to point out
    assert "note:" not in echo.getvalue()
    after = load_project(root, strict=False)
    assert domain_meaning(after.domain) == domain_meaning(before.domain)
    assert len(after.problems) <= len(before.problems)


def test_a_migrated_domain_leaves_the_trained_policies_up_to_date(rasa_projects: Path,
                                                                   tmp_path: Path) -> None:
    root = shutil.copytree(rasa_projects / "formbot", tmp_path / "formbot")
    before = policy_fingerprints(root)
    migrate_domain_format(root, echo=io.StringIO())
    assert load_project(root).domain.version != "2.0"
    # what `train` compares to decide that a policy needs training again
    assert policy_fingerprints(root) == before


def policy_fingerprints(root: Path) -> dict[str, str]:
    project = load_project(root, strict=False)
    paths = training_paths(project)
    domain_part = domain_signature(project.domain)
    return {entry.key: policy_fingerprint(entry.policy, domain_part, paths, DEFAULT_SEED)
            for entry in build_policies(project)}
