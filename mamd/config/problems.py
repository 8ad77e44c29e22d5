"""Configuration problems: what is wrong, in which file, on which line, under which key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_KEY_CHARS = 200
MAX_MESSAGE_CHARS = 1000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class Problem:
    """One problem; a key or message quoting a huge value is cut, since it is shown in /status and logs."""

    file: str
    line: int | None
    key: str
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", _cut(self.key, MAX_KEY_CHARS))
        object.__setattr__(self, "message", _cut(self.message, MAX_MESSAGE_CHARS))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "key": self.key, "message": self.message}


class ConfigError(Exception):
    """The file cannot be used; `problems` lists every reason, in file order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.key))
        super().__init__("\n".join(str(p) for p in self.problems))

    def summary(self) -> str:
        first = str(self.problems[0]) if self.problems else "invalid configuration"
        more = len(self.problems) - 1
        return first + (f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else "")
