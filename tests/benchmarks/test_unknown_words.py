"""benchmarks/unknown_words.py: in-scope messages and keyboard mash without a known word."""

from __future__ import annotations

import sys

from benchmark_scripts import load_benchmark

unknown_words = load_benchmark("unknown_words")


def test_test_messages_are_scored_against_the_training_words(tmp_path, monkeypatch,
                                                             capsys) -> None:
    for split, lines in (("train", ["book a table", "hello there"]),
                         ("test", ["hello", "a table for 2", "hiya"])):
        (tmp_path / split).mkdir()
        (tmp_path / split / "seq.in").write_text("\n".join(lines) + "\n", encoding="utf-8")
    train, test = (unknown_words.split_texts(tmp_path, s) for s in ("train", "test"))
    assert unknown_words.score_split(train, test, None) == ["hiya"]
    mash = tmp_path / "mash.txt"
    mash.write_text("qwerty\nhello qwerty\n", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["unknown_words.py", "--data", str(tmp_path),
                                      "--model", "none", "--mash", str(mash)])
    unknown_words.main()
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:4]}
    assert rows == {tmp_path.name: ["none", "3", "1", "33.33%"],
                    "mash": ["none", "2", "1", "50.00%"]}
    assert "in scope, caught: hiya" in out and "mash, missed: hello qwerty" in out


def test_each_project_example_is_scored_without_its_own_words(write_project) -> None:
    nlu = """version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hello there
      - hiya
"""
    root = write_project(domain='version: "3.1"\nintents: [greet]\n', nlu=nlu)
    # "hiya" is in no other example; "hello" is in "hello there", and "there" is
    # unknown alone but "hello" is known
    texts = unknown_words.project_texts(root)
    assert unknown_words.score_leave_one_out(texts, None) == ["hiya"]
