"""The fonts evaluation plots draw their labels with: intent names in any script."""

from __future__ import annotations

import logging
import warnings

import pytest
from matplotlib import font_manager

from dialogflowlite.evaluation import plots

#: circled Latin capitals: not in matplotlib's default font (DejaVu Sans), but
#: in the STIX fonts matplotlib ships, so a fallback is found on every machine
CIRCLED = "ⒶⒷ"


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(plots, "_WARNED", set())


def _has(family: str, char: str) -> bool:
    path = font_manager.findfont(font_manager.FontProperties(family=family),
                                 fallback_to_default=False)
    return char in plots._characters_of(path)


def test_labels_the_default_font_has_take_it_alone(caplog):
    with caplog.at_level(logging.WARNING):
        fonts = plots.label_fonts(["greet", "café", "ask_hours"])
    assert fonts == [font_manager.FontProperties().get_family()[0]]
    assert not caplog.records


def test_characters_the_default_font_lacks_come_from_an_installed_font_that_has_them(caplog):
    with caplog.at_level(logging.WARNING):
        fonts = plots.label_fonts([f"greet_{CIRCLED}"])
    assert len(fonts) > 1
    assert all(any(_has(family, char) for family in fonts[1:]) for char in CIRCLED)
    assert not caplog.records


def test_text_drawn_with_those_fonts_has_every_glyph(tmp_path):
    figure = plots._figure(2.0, 1.0)
    figure.text(0.1, 0.5, f"greet {CIRCLED}", fontfamily=plots.label_fonts([CIRCLED]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.savefig(tmp_path / "text.png", format="png")
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_the_confusion_matrix_takes_the_fonts_of_its_labels(monkeypatch, tmp_path):
    asked = []
    monkeypatch.setattr(plots, "label_fonts",
                        lambda labels: asked.append(list(labels)) or ["DejaVu Sans"])
    path = plots.plot_confusion_matrix(["greet", f"x{CIRCLED}"], [[2, 0], [1, 3]],
                                       tmp_path / "matrix.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert asked == [["greet", f"x{CIRCLED}"]]


def test_characters_no_installed_font_has_are_named_once(monkeypatch, tmp_path, caplog):
    # a machine without CJK fonts: only matplotlib's default font is installed
    default = font_manager.findfont(font_manager.FontProperties())
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [f for f in font_manager.fontManager.ttflist if f.fname == default])
    labels = ["问候", "予約", "greet"]
    with caplog.at_level(logging.WARNING, logger=plots.__name__):
        plots.plot_confusion_matrix(labels, [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                                    tmp_path / "a.png")
        plots.plot_confusion_matrix(labels, [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                                    tmp_path / "b.png")
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1
    assert all(char in warned[0] for char in "问候予約")
    assert "fonts-noto-cjk" in warned[0]
    assert (tmp_path / "b.png").is_file()


def test_a_placeholder_font_is_not_taken_for_a_fallback(monkeypatch):
    placeholder = font_manager.FontEntry(fname="/nowhere/LastResortHE-Regular.ttf",
                                         name="Last Resort High-Efficiency")
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [placeholder])
    monkeypatch.setattr(plots, "_characters_of",
                        lambda path: frozenset("abc") if "DejaVu" in path else frozenset("问"))
    assert plots._fonts_having(frozenset("问")) == ([], frozenset("问"))


def test_labels_too_long_for_the_layout_draw_without_a_warning(tmp_path) -> None:
    # a bot text as an action's name: matplotlib's "Tight layout not applied" reached
    # the console of `test core`
    long = "Hello! I am the assistant of the shop, and I can help with orders, returns " \
           "and the opening hours of every branch."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = plots.plot_confusion_matrix([long, "utter_bye"], [[1, 0], [0, 1]],
                                           tmp_path / "long.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [w for w in caught if "layout" in str(w.message).lower()]
