"""config.yml's ``importers:``: MultiProjectImporter's ``imports:``, RasaFileImporter's
settings, several importers, and importers that cannot run here."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dialogflowlite.cli.main import main
from dialogflowlite.components.nlu.training import data_fingerprint
from dialogflowlite.errors import ProjectValidationError
from dialogflowlite.io.loader import ProjectSources, load_project
from dialogflowlite.training.trainer import validated_project

MULTI = "importers:\n  - name: MultiProjectImporter\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def domain(intents: list[str], responses: dict[str, str], extra: str = "") -> str:
    lines = ['version: "3.1"', f"intents: [{', '.join(intents)}]", "responses:"]
    lines += [f"  {name}:\n    - text: {text}" for name, text in responses.items()]
    return "\n".join(lines) + "\n" + extra


def nlu(intent: str, *examples: str) -> str:
    body = "".join(f"      - {e}\n" for e in examples)
    return f'version: "3.1"\nnlu:\n  - intent: {intent}\n    examples: |\n{body}'


def story(name: str, intent: str, action: str) -> str:
    return (f'version: "3.1"\nstories:\n  - story: {name}\n    steps:\n'
            f"      - intent: {intent}\n      - action: {action}\n")


def sub_project(root: Path, name: str, config: str | None = None) -> Path:
    """A small project in ``root/name`` with intent ``name``, one example and one story."""
    files = {
        "domain.yml": domain([name], {f"utter_{name}": f"{name} reply"}),
        "data/nlu.yml": nlu(name, f"{name} one", f"{name} two"),
        "data/stories.yml": story(f"{name} story", name, f"utter_{name}"),
    }
    if config is not None:
        files["config.yml"] = config
    return write(root / name, files)


@pytest.fixture
def bot(tmp_path: Path) -> Path:
    """A root project that imports two projects; ``skills/chitchat`` imports a third."""
    root = write(tmp_path / "bot", {
        "config.yml": "language: en\npipeline: []\npolicies:\n  - name: RulePolicy\n"
                      + MULTI + "imports:\n  - skills/greet\n  - skills/chitchat\n",
        "domain.yml": domain(["root_intent"], {"utter_root": "root reply"}),
        "data/nlu.yml": nlu("root_intent", "root one"),
        "data/stories.yml": story("root story", "root_intent", "utter_root"),
    })
    sub_project(root / "skills", "greet")
    sub_project(root / "skills", "chitchat", "language: de\npipeline:\n  - name: Nonexistent\n"
                                             "imports:\n  - ../../../shared/faq\n")
    sub_project(tmp_path / "shared", "faq")
    return root


def test_imported_projects_are_merged_into_the_root(bot) -> None:
    project = load_project(bot)
    assert set(project.domain.intents) >= {"root_intent", "greet", "chitchat", "faq"}
    assert set(project.domain.responses) == {"utter_root", "utter_greet", "utter_chitchat",
                                             "utter_faq"}
    assert {m.text for m in project.nlu.examples} == {
        "root one", "greet one", "greet two", "chitchat one", "chitchat two", "faq one",
        "faq two"}
    assert [s.name for s in project.stories] == ["root story", "greet story",
                                                 "chitchat story", "faq story"]
    assert [p.folder.name for p in project.imported] == ["greet", "chitchat", "faq"]
    # only the root config is the model's: the imported one's language and pipeline are not
    assert project.config.language == "en"
    assert [c.name for c in project.config.policies] == ["RulePolicy"]
    assert project.config.pipeline == []


def test_positions_name_the_imported_files(bot) -> None:
    project = load_project(bot)
    faq_story = next(s for s in project.stories if s.name == "faq story")
    assert Path(faq_story.position.file) == (bot.parent / "shared/faq/data/stories.yml").resolve()
    assert faq_story.position.line == 3
    utter = project.domain.responses["utter_greet"]
    assert Path(utter.position.file) == (bot / "skills/greet/domain.yml").resolve()
    assert utter.position.line == 4
    # a problem in an imported file names that file and line
    stories = bot / "skills/greet/data/stories.yml"
    stories.write_text(stories.read_text(encoding="utf-8") + "      - actoin: x\n",
                       encoding="utf-8")
    problems = load_project(bot, strict=False).problems
    assert any(Path(p.position.file) == stories.resolve() and p.position.line == 7
               for p in problems), [str(p) for p in problems]


def test_without_the_importer_imports_are_not_read_and_a_warning_says_so(bot) -> None:
    config = bot / "config.yml"
    config.write_text(config.read_text(encoding="utf-8").replace(MULTI, ""), encoding="utf-8")
    project = load_project(bot, strict=False)
    assert set(project.domain.intents) == {"root_intent"}
    [warning] = [p for p in project.problems if "imports" in p.message]
    assert not warning.is_error
    assert (warning.position.file, warning.position.line) == (str(config), 5)
    assert "MultiProjectImporter" in warning.hint


def test_the_root_declaration_wins_over_an_imported_one(tmp_path) -> None:
    root = write(tmp_path / "bot", {
        "config.yml": MULTI + "imports: [sub]\n",
        "domain.yml": domain(["greet"], {"utter_greet": "root says hi"},
                             "session_config:\n  session_expiration_time: 5\n"),
        "sub/domain.yml": domain(["greet", "other"], {"utter_greet": "sub says hi",
                                                     "utter_other": "other"},
                                 "session_config:\n  session_expiration_time: 99\n"),
    })
    project = load_project(root, strict=False)
    assert project.domain.responses["utter_greet"].variations == [{"text": "root says hi"}]
    assert "utter_other" in project.domain.responses
    assert project.domain.session_config.session_expiration_time == 5
    [warning] = [p for p in project.problems if "utter_greet" in p.message]
    assert not warning.is_error
    assert Path(warning.position.file) == (root / "sub/domain.yml").resolve()
    assert f"{root / 'domain.yml'}:4" in warning.message
    # the same intent declared by both is merged without a word, as in Rasa
    assert not [p for p in project.problems if "'greet'" in p.message]


def test_a_cycle_and_a_repeated_import_read_each_project_once(tmp_path) -> None:
    root = write(tmp_path / "bot", {
        "config.yml": MULTI + "imports: [a, a/, b, ../bot]\n",
        "domain.yml": domain(["root_intent"], {}),
    })
    sub_project(root, "a", "imports: [../b, ..]\n")
    sub_project(root, "b", "imports:\n  - ../a\n")
    project = load_project(root)
    assert [p.folder.name for p in project.imported] == ["a", "b"]
    assert sorted(m.text for m in project.nlu.examples) == ["a one", "a two", "b one", "b two"]
    assert [s.name for s in project.stories] == ["a story", "b story"]


def test_a_sub_project_inside_the_roots_data_folder_is_read_as_a_project(tmp_path) -> None:
    # Rasa's own multi-project example keeps the imported projects under data/
    root = write(tmp_path / "bot", {
        "config.yml": MULTI + "imports: [data/MoodBot]\n",
        "domain.yml": domain(["root_intent"], {}),
        "data/nlu.yml": nlu("root_intent", "root one"),
    })
    sub_project(root / "data", "MoodBot", "imports: [../GreetBot]\n")
    sub_project(root / "data", "GreetBot")
    project = load_project(root)
    assert {"MoodBot", "GreetBot"} <= set(project.domain.intents)
    assert sorted(m.text for m in project.nlu.examples) == [
        "GreetBot one", "GreetBot two", "MoodBot one", "MoodBot two", "root one"]
    # their domain.yml is their domain, not a data file of the root
    assert not [p for p in project.problems if "unknown key" in p.message]


def test_a_missing_imported_folder_is_an_error_at_its_entry(bot) -> None:
    config = bot / "skills/chitchat/config.yml"
    config.write_text("imports:\n  - ../greet\n  - ../nowhere\n", encoding="utf-8")
    with pytest.raises(ProjectValidationError) as raised:
        load_project(bot)
    [error] = raised.value.problems
    assert (Path(error.position.file), error.position.line) == (config.resolve(), 3)
    assert "nowhere does not exist" in error.message
    assert "folder of config.yml" in error.hint


def test_an_imported_file_that_is_no_config_is_an_error(tmp_path) -> None:
    root = write(tmp_path / "bot", {
        "config.yml": MULTI + "imports:\n  - other/data/nlu.yml\n",
        "domain.yml": domain(["root_intent"], {}),
    })
    sub_project(root, "other")
    project = load_project(root, strict=False)
    [error] = project.errors
    assert (error.position.file, error.position.line) == (str(root / "config.yml"), 4)
    assert "is a file, not a project folder" in error.message


def test_a_python_importer_is_an_error_naming_it(tmp_path) -> None:
    root = write(tmp_path / "bot", {
        "config.yml": "language: en\nimporters:\n  - name: RasaFileImporter\n"
                      "  - name: my_package.importers.DatabaseImporter\n    table: x\n",
        "domain.yml": domain(["root_intent"], {}),
    })
    with pytest.raises(ProjectValidationError) as raised:
        load_project(root)
    [error] = raised.value.problems
    assert (error.position.file, error.position.line) == (str(root / "config.yml"), 4)
    assert "'my_package.importers.DatabaseImporter'" in error.message
    assert "would be missing" in error.message
    assert "Rasa YAML files" in error.hint


def test_a_misspelt_importer_gets_a_suggestion(tmp_path) -> None:
    root = write(tmp_path / "bot", {
        "config.yml": "importers:\n  - name: MultiProjectImpoter\n",
        "domain.yml": domain(["root_intent"], {}),
    })
    [error] = load_project(root, strict=False).errors
    assert error.position.line == 2
    assert "'MultiProjectImporter'" in error.hint


def test_rasa_file_importer_settings_name_other_files(tmp_path) -> None:
    root = write(tmp_path / "bot", {
        "config.yml": "language: en\nimporters:\n  - name: RasaFileImporter\n"
                      "    domain_path: bot_domain.yml\n"
                      "    training_data_paths: [training/nlu.yml, training/more]\n"
                      "    config_file: model.yml\n",
        "model.yml": "language: fr\npipeline: []\n",
        "bot_domain.yml": domain(["one", "two"], {}),
        "domain.yml": domain(["not_read"], {}),
        "data/nlu.yml": nlu("not_read", "not read"),
        "training/nlu.yml": nlu("one", "first"),
        "training/more/nlu.yml": nlu("two", "second"),
    })
    project = load_project(root)
    assert set(project.domain.intents) == {"one", "two"}
    assert sorted(m.text for m in project.nlu.examples) == ["first", "second"]
    assert project.config.language == "fr"
    # the command line still wins over the settings
    given = load_project(root, sources=ProjectSources(domain="domain.yml"), strict=False)
    assert set(given.domain.intents) == {"not_read"}


def test_a_missing_setting_path_is_an_error_at_the_setting(tmp_path) -> None:
    root = write(tmp_path / "bot", {
        "config.yml": "importers:\n  - name: RasaFileImporter\n"
                      "    training_data_paths:\n      - data\n      - nothing_here\n",
        "domain.yml": domain(["root_intent"], {}),
        "data/nlu.yml": nlu("root_intent", "root one"),
    })
    [error] = load_project(root, strict=False).errors
    assert (error.position.file, error.position.line) == (str(root / "config.yml"), 5)
    assert "nothing_here does not exist" in error.message


def test_several_importers_merge_their_data_and_read_each_file_once(tmp_path) -> None:
    root = write(tmp_path / "bot", {
        "config.yml": "importers:\n  - name: RasaFileImporter\n"
                      "  - name: RasaFileImporter\n    training_data_paths: [extra]\n"
                      "  - name: MultiProjectImporter\nimports: [sub]\n",
        "domain.yml": domain(["root_intent"], {}),
        "data/nlu.yml": nlu("root_intent", "root one"),
        "extra/nlu.yml": nlu("root_intent", "extra one"),
    })
    sub_project(root, "sub")
    project = load_project(root)
    assert sorted(m.text for m in project.nlu.examples) == ["extra one", "root one",
                                                            "sub one", "sub two"]
    assert [s.name for s in project.stories] == ["sub story"]
    assert not project.problems


def test_validate_and_train_see_the_imported_data(bot, capsys) -> None:
    code = main(["data", "validate", "--project", str(bot)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "7 examples" in out and "4 stories" in out
    project = validated_project(bot, "errors")
    assert len(project.nlu.examples) == 7 and len(project.stories) == 4


def test_changing_an_imported_file_changes_the_training_fingerprint(bot) -> None:
    before = data_fingerprint(load_project(bot).nlu, "en")
    assert data_fingerprint(load_project(bot).nlu, "en") == before
    nlu_file = bot.parent / "shared/faq/data/nlu.yml"
    nlu_file.write_text(nlu("faq", "faq one", "faq three"), encoding="utf-8")
    assert data_fingerprint(load_project(bot).nlu, "en") != before


def test_an_imported_folder_is_read_whatever_its_layout(tmp_path) -> None:
    # Rasa walks the whole imported folder and reads each file by what it holds
    root = write(tmp_path / "bot", {
        "config.yml": MULTI + "imports: [faq]\n",
        "domain.yml": domain(["root_intent"], {}),
        "faq/faq_domain.yml": domain(["faq"], {"utter_faq": "faq reply"}),
        "faq/questions.yml": nlu("faq/opening", "when do you open")
                             + 'responses:\n  utter_faq/opening:\n    - text: "At nine."\n',
        "faq/endpoints.yml": "action_endpoint:\n  url: http://localhost:5055/webhook\n",
        "faq/broken.yml": "not: [valid\n",
    })
    project = load_project(root)
    assert "faq" in project.domain.intents
    assert "utter_faq/opening" in project.domain.responses
    assert [m.text for m in project.nlu.examples] == ["when do you open"]
    assert Path(project.domain.responses["utter_faq"].position.file).name == "faq_domain.yml"


def test_the_root_may_leave_its_domain_to_the_imported_projects(tmp_path) -> None:
    root = write(tmp_path / "bot", {"config.yml": MULTI + "imports: [projects/a, projects]\n"})
    sub_project(root / "projects", "a")
    sub_project(root / "projects", "b")
    b_domain = root / "projects/b/domain.yml"
    b_domain.write_text(domain(["b"], {"utter_b": "b reply", "utter_a": "b's a"}),
                        encoding="utf-8")
    project = load_project(root, strict=False)
    assert set(project.domain.intents) == {"a", "b"}
    assert [s.name for s in project.stories] == ["a story", "b story"]
    assert [p.folder.name for p in project.imported] == ["a", "projects"]
    # project a's files belong to a (imported first), not to the folder around it:
    # its utter_a is kept over the one of b, read later as part of `projects`
    assert project.domain.responses["utter_a"].variations == [{"text": "a reply"}]
    [warning] = [p for p in project.problems if "utter_a" in p.message]
    assert "declared differently" in warning.message
    (root / "projects/a/domain.yml").unlink()
    (root / "projects/b/domain.yml").unlink()
    [error] = load_project(root, strict=False).errors
    assert error.message == "the project has no domain"


def test_project_directory_is_where_the_root_imports_are_taken_from(tmp_path) -> None:
    root = write(tmp_path / "bot", {
        "config.yml": "importers:\n  - name: MultiProjectImporter\n"
                      "    project_directory: skills\nimports: [greet]\n",
        "domain.yml": domain(["root_intent"], {}),
    })
    sub_project(root / "skills", "greet")
    assert "greet" in load_project(root).domain.intents
