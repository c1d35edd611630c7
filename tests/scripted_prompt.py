"""A prompt for interactive sessions whose answers are given up front."""

from __future__ import annotations


class ScriptedPrompt:
    """Answers ``ask`` from ``answers`` in order (an exception among them is raised
    instead, e.g. ``KeyboardInterrupt()``; none left: end of input) and keeps every
    line shown or asked in :attr:`lines`."""

    def __init__(self, answers: list, interactive: bool = True) -> None:
        self.answers = list(answers)
        self.interactive = interactive
        self.lines: list[str] = []

    def show(self, text: str) -> None:
        self.lines.append(text)

    def ask(self, question: str) -> str:
        self.lines.append(question)
        if not self.answers:
            raise EOFError
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    @property
    def text(self) -> str:
        return "\n".join(self.lines)
