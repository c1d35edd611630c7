"""``dialogflowlite evaluate markers``: Rasa's markers on run's tracker store, end to end."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from story_data import MOOD_MARKERS as MARKERS

from dialogflowlite.cli.evaluate import run_evaluate_markers
from dialogflowlite.cli.main import main
from dialogflowlite.errors import ConfigError, ProjectError, ProjectValidationError
from dialogflowlite.shared.events import ActionExecuted, Event, SessionStarted, UserUttered
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.stores.sqlite import SQLiteTrackerStore

DOMAIN = """\
    version: "3.1"
    intents: [greet, mood_unhappy, mood_great, deny]
    responses:
      utter_greet: [{text: Hi}]
      utter_cheer_up: [{text: Here is a kitten}]
      utter_did_that_help: [{text: Did that help?}]
    """


def _user(intent: str) -> UserUttered:
    return UserUttered(text=intent, parse_data={"intent": {"name": intent, "confidence": 1.0}})


def _turns(*steps: str) -> list[Event]:
    """A session: its start, then a user message (an intent) or an action (utter_...) each."""
    events: list[Event] = [ActionExecuted(name="action_session_start"), SessionStarted(),
                           ActionExecuted(name="action_listen")]
    for step in steps:
        events.append(ActionExecuted(name=step) if step.startswith("utter_") else _user(step))
    return events


CONVERSATIONS = {
    "sad": _turns("mood_unhappy", "utter_cheer_up", "utter_did_that_help", "deny"),
    "happy": [*_turns("greet", "utter_greet"), *_turns("mood_great")],
    "quiet": _turns("greet", "utter_greet"),
}


def _project(root: Path, *, markers: str = MARKERS, db: str = "trackers.db",
             endpoints: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "domain.yml").write_text(textwrap.dedent(DOMAIN), encoding="utf-8")
    (root / "markers.yml").write_text(textwrap.dedent(markers), encoding="utf-8")
    if endpoints is not None:
        (root / "endpoints.yml").write_text(endpoints, encoding="utf-8")

    async def fill() -> None:
        store = SQLiteTrackerStore(db=root / db)
        try:
            for sender, events in CONVERSATIONS.items():
                await store.save(DialogueStateTracker(sender, events=events))
        finally:
            await store.close()

    asyncio.run(fill())
    return root


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


HEADER = "sender_id,session_idx,marker,event_idx,num_preceding_user_turns"
ALL_ROWS = [
    "sad,0,marker_mood_expressed,3,0",
    "sad,0,marker_cheer_up_failed,6,1",
    "happy,1,marker_mood_expressed,8,0",
]


def test_all_conversations_of_run_s_store_into_the_csv_and_statistics(tmp_path: Path,
                                                                       capsys) -> None:
    project = _project(tmp_path / "bot")
    out = tmp_path / "results" / "markers.csv"
    assert main(["evaluate", "markers", "--project", str(project), "all", str(out)]) == 0
    assert _lines(out) == [HEADER, *ALL_ROWS]
    # the statistics go into the project (Rasa's working folder), not next to the output
    assert not (tmp_path / "results" / "stats-overall.csv").exists()
    overall = _lines(project / "stats-overall.csv")
    assert overall[:6] == [
        "sender_id,session_idx,marker,statistic,value",
        "all,nan,-,total_number_of_sessions,4",
        "all,nan,marker_cheer_up_failed,number_of_sessions_where_marker_applied_at_least_once,1",
        "all,nan,marker_cheer_up_failed,"
        "percentage_of_sessions_where_marker_applied_at_least_once,25.0",
        "all,nan,marker_mood_expressed,number_of_sessions_where_marker_applied_at_least_once,2",
        "all,nan,marker_mood_expressed,"
        "percentage_of_sessions_where_marker_applied_at_least_once,50.0",
    ]
    per_session = _lines(project / "stats-per-session.csv")
    assert len(per_session) == 1 + 2 * 5 * 4  # markers x statistics x sessions
    printed = capsys.readouterr().out
    assert f"2 markers applied 3 times in 4 sessions of 3 conversations: {out}" in printed


def test_the_defaults_write_into_the_project(tmp_path: Path) -> None:
    project = _project(tmp_path)
    run = asyncio.run(run_evaluate_markers(project))
    assert run.output == project.resolve() / "extracted_markers.csv"
    assert run.stats_files == (project.resolve() / "stats-overall.csv",
                               project.resolve() / "stats-per-session.csv")
    assert (run.conversations, run.sessions, run.rows) == (3, 4, 3)
    assert _lines(run.output) == [HEADER, *ALL_ROWS]


def test_first_n_takes_the_store_s_first_conversations(tmp_path: Path) -> None:
    project = _project(tmp_path)
    out = tmp_path / "first.csv"
    assert main(["evaluate", "markers", "--project", str(project), "--no-stats",
                 "first_n", "1", str(out)]) == 0
    assert _lines(out) == [HEADER, *ALL_ROWS[:2]]
    assert not (tmp_path / "stats-overall.csv").exists()


def test_the_output_file_may_follow_options_given_after_the_count(tmp_path: Path) -> None:
    project = _project(tmp_path)
    out = tmp_path / "late.csv"
    # "unrecognized arguments: late.csv": argparse gave the file nothing after the count
    assert main(["evaluate", "markers", "--project", str(project), "first_n", "1",
                 "--no-stats", str(out)]) == 0
    assert _lines(out) == [HEADER, *ALL_ROWS[:2]]
    with pytest.raises(SystemExit):
        main(["evaluate", "markers", "--project", str(project), "first_n", "1",
              "--no-stats", str(out), "another.csv"])


def test_sample_n_with_a_seed_draws_the_same_conversations(tmp_path: Path) -> None:
    project = _project(tmp_path)
    outputs = [tmp_path / "a.csv", tmp_path / "b.csv"]
    for out in outputs:
        assert main(["evaluate", "markers", "sample_n", "2", str(out), "--seed", "3",
                     "--project", str(project), "--no-stats"]) == 0
    first, second = (_lines(out) for out in outputs)
    assert first == second
    runs = {asyncio.run(run_evaluate_markers(project, strategy="sample_n", count=2, seed=seed,
                                             output=tmp_path / f"s{seed}.csv",
                                             stats=False)).conversations
            for seed in range(3)}
    assert runs == {2}


@pytest.mark.parametrize("placement", ["after the strategy", "before the strategy"])
def test_a_stats_prefix_without_a_value_writes_no_statistics(tmp_path: Path,
                                                             placement: str) -> None:
    # Rasa's --stats-file-prefix takes an optional value; given none, no statistics are written
    project = _project(tmp_path)
    out = tmp_path / "out.csv"
    command = (["all", str(out), "--stats-file-prefix"] if placement == "after the strategy"
               else ["--stats-file-prefix", "--project", str(project), "all", str(out)])
    assert main(["evaluate", "markers", "--project", str(project), *command]) == 0
    assert _lines(out) == [HEADER, *ALL_ROWS]
    assert not list(project.glob("stats-*.csv")) and not list(tmp_path.glob("stats-*.csv"))


def test_the_tracker_store_of_endpoints_yml_and_a_stats_prefix(tmp_path: Path) -> None:
    project = _project(tmp_path, db="other.db",
                       endpoints="tracker_store:\n  type: sqlite\n  db: other.db\n")
    prefix = tmp_path / "stats" / "marker-statistics"
    assert main(["evaluate", "markers", "--project", str(project), "--stats-file-prefix",
                 str(prefix), "all", str(tmp_path / "out.csv")]) == 0
    assert _lines(tmp_path / "out.csv") == [HEADER, *ALL_ROWS]
    assert (tmp_path / "stats" / "marker-statistics-overall.csv").is_file()
    assert (tmp_path / "stats" / "marker-statistics-per-session.csv").is_file()


def test_a_markers_folder_given_with_config(tmp_path: Path) -> None:
    project = _project(tmp_path)
    folder = tmp_path / "my_markers"
    folder.mkdir()
    (folder / "greetings.yml").write_text("greeted:\n  intent: greet\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["evaluate", "markers", "--project", str(project), "all", "--config",
                 str(folder), str(out), "--no-stats"]) == 0
    assert _lines(out) == [HEADER, "happy,0,greeted,3,0", "quiet,0,greeted,3,0"]


def test_markers_the_domain_does_not_know_stop_the_command(tmp_path: Path, capsys) -> None:
    project = _project(tmp_path, markers="asked:\n  intent: mood_unhapy\n")
    assert main(["evaluate", "markers", "--project", str(project)]) == 1
    err = capsys.readouterr().err
    assert f"{project / 'markers.yml'}:2:3: error: marker 'asked'" in err
    assert "did you mean 'mood_unhappy'?" in err
    assert not (project / "extracted_markers.csv").exists()
    # another domain knows it
    other = tmp_path / "other_domain.yml"
    other.write_text('version: "3.1"\nintents: [mood_unhapy]\n', encoding="utf-8")
    assert main(["evaluate", "markers", "--project", str(project), "-d", str(other)]) == 0


def test_existing_outputs_are_not_overwritten(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "stats-overall.csv").write_text("keep me", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"stats-overall\.csv already exists"):
        asyncio.run(run_evaluate_markers(project))
    assert (project / "stats-overall.csv").read_text(encoding="utf-8") == "keep me"
    assert not (project / "extracted_markers.csv").exists()
    # without statistics the same run goes through
    asyncio.run(run_evaluate_markers(project, stats=False))
    assert (project / "extracted_markers.csv").is_file()


def test_command_line_mistakes(tmp_path: Path, capsys) -> None:
    project = _project(tmp_path)
    assert main(["evaluate", "markers", "--project", str(project), "--no-stats",
                 "all", "--stats-file-prefix", "x"]) == 1
    assert "--no-stats and --stats-file-prefix exclude each other" in capsys.readouterr().err
    assert main(["evaluate", "markers", "--project", str(project), "first_n", "0"]) == 1
    assert "first_n needs a number of conversations of at least 1" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="unknown strategy"):
        asyncio.run(run_evaluate_markers(project, strategy="every"))
    (project / "markers.yml").write_text("m:\n  seq: []\n", encoding="utf-8")
    with pytest.raises(ProjectValidationError):
        asyncio.run(run_evaluate_markers(project))
