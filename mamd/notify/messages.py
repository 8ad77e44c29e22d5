"""The words of a notification: a short title and a body a person reads on a phone.

Pure: each function takes what happened (events as `Item`s, a problem, the day's figures) and returns
`(title, body)`. A body names the event ids it tells of, so `GET /api/v1/events` finds the details; a
title says "dry run" while mamd changes nothing. The link to `/status` is added when it is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_LISTED = 10  # lines of a batch; the rest are counted
MAX_TITLE_CHARS = 120
MAX_BODY_CHARS = 1500  # ntfy takes 4 KiB, Pushover 1 KiB of text; the link follows
DRY_RUN = "[dry run] "


@dataclass(frozen=True)
class Item:
    """One event as a message tells it."""

    event_id: int
    kind: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.event_id, "kind": self.kind, "message": self.message, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Item:
        return cls(int(data["id"]), str(data["kind"]), str(data["message"]), dict(data.get("data") or {}))


def book_label(book: Mapping[str, Any]) -> str:
    """`The Hero of Ages — Brandon Sanderson (Mistborn #3)`."""
    title = str(book.get("title") or "an unnamed book")
    authors = ", ".join(str(a) for a in book.get("authors") or ())
    series, position = book.get("series"), book.get("position")
    where = f" ({series} #{position})" if series and position else f" ({series})" if series else ""
    return f"{title}{' — ' + authors if authors else ''}{where}"


def _subject(item: Item) -> str:
    """What one event is about, in a few words: the book, else the torrent, else its own text."""
    book = item.data.get("book")
    if isinstance(book, Mapping) and book.get("title"):
        return book_label(book)
    name = item.data.get("name")
    return str(name) if name else item.message


# kind → (title for one, title for several: "{n}" is their number)
_TITLES: Mapping[str, tuple[str, str]] = {
    "grab.added": ("Grabbed: {subject}", "Grabbed {n} books"),
    "grab.would_grab": ("Would grab: {subject}", "Would grab {n} books"),
    "grab.failed": ("Could not grab: {subject}", "Could not grab {n} books"),
    "search.held": ("MAM is not searched", "MAM is not searched"),
    "search.resumed": ("MAM is searched again", "MAM is searched again"),
    "import.done": ("Imported: {subject}", "Imported {n} books"),
    "import.would_link": ("Would import: {subject}", "Would import {n} books"),
    "import.failed": ("Import failed: {subject}", "{n} imports failed"),
    "import.not_in_library": ("Not in Audiobookshelf: {subject}", "{n} imports not in Audiobookshelf"),
    "import.unsure": ("Import needs you: {subject}", "{n} imports need you"),
    "torrent.at_risk": ("Hit-and-run risk: {subject}", "Hit-and-run risk: {n} torrents"),
    "torrent.risk_cleared": ("No longer at risk: {subject}", "{n} torrents no longer at risk"),
    "torrent.vanished": ("Gone from qBittorrent: {subject}", "{n} torrents gone from qBittorrent"),
    "account.counter_rose": ("MAM counts more trouble", "MAM counts more trouble"),
    "bonus.spent": ("Bonus points spent", "Bonus points spent"),
    "bonus.would_spend": ("Would spend bonus points", "Would spend bonus points"),
    "bonus.not_spent": ("A bonus purchase did not go through", "Bonus purchases did not go through"),
    "bonus.refused": ("MAM refused a bonus purchase", "MAM refused bonus purchases"),
    "bonus.unknown": ("A bonus purchase is unclear", "Bonus purchases are unclear"),
    "bonus.halted": ("Bonus spending stopped", "Bonus spending stopped"),
    "bonus.resumed": ("Bonus spending goes on", "Bonus spending goes on"),
    "seedbox.problem": ("MAM seedbox IP: a problem", "MAM seedbox IP: problems"),
}
# the subject is a book: a batch lists books; otherwise each event's own text
_LIST_SUBJECTS = frozenset({"grab.added", "grab.would_grab", "import.done", "import.would_link"})


def events_message(items: Sequence[Item], count: int, dry_run: bool) -> tuple[str, str]:
    """The title and body telling `count` events, of which `items` are kept (the first ones)."""
    if not items:
        raise ValueError("a message tells at least one event")
    kind = items[0].kind
    if kind.startswith("guard."):
        title, lines = _guard(items)
    else:
        one, many = _TITLES.get(kind, (kind, f"{kind} ×{{n}}"))
        title = one.format(subject=_subject(items[0])) if count == 1 else many.format(n=count)
        if count == 1:
            lines = [items[0].message]
        elif kind in _LIST_SUBJECTS:
            lines = [f"• {_subject(item)}" for item in items]
        else:
            lines = [f"• {item.message}" for item in items]
    return _finish(title, lines, count - len(items), _refer(items), dry_run)


def _guard(items: Sequence[Item]) -> tuple[str, list[str]]:
    """A change of the account guard and what it did about downloads, as one message."""
    changed = [item for item in items if item.kind == "guard.changed"]
    lines: list[str] = []
    if changed:
        last = changed[-1].data
        level = str(last.get("level") or "?")
        title = "Account guard: " + ("OK again" if level == "ok" else level.upper())
        reasons = [str(r) for r in last.get("reasons") or ()]
        lines.append("; ".join(reasons) if reasons else "every check passes")
        if last.get("grabs") in _GRABS:
            lines.append(_GRABS[str(last["grabs"])])
    else:
        title = "Account guard"
    lines.extend(_sentence(item.message) for item in items if item.kind != "guard.changed")
    return title, lines


_GRABS = {"all": "all grabs allowed", "freeleech": "freeleech grabs only", "none": "nothing is grabbed"}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class ProblemFacts:
    problem_id: str
    title: str
    summary: str
    resolved: bool = False
    note: str = ""  # how the resolution was seen, when not directly


def problem_message(facts: ProblemFacts, dry_run: bool) -> tuple[str, str]:
    if facts.resolved:
        title = f"Resolved: {facts.title}"
        lines = [f"Was: {facts.summary}"] + ([facts.note] if facts.note else [])
    else:
        title = facts.title
        lines = [_session_hint(facts) or facts.summary]
    return _finish(title, lines, 0, f"mamd problem {facts.problem_id}", dry_run)


def _session_hint(facts: ProblemFacts) -> str | None:
    if facts.problem_id != "service.mam" or not facts.title.startswith("MAM refused"):
        return None
    return (
        "Paste a new mam_id into mam.session (MAM → Preferences → Security); mamd sends nothing to MAM "
        f"until then and picks the new one up within a second. MAM said: {facts.summary}"
    )


@dataclass(frozen=True)
class DayFacts:
    """What a daily summary tells: the last day's work and the state now."""

    since: float
    grabbed: int
    imported: int
    import_failures: int
    guard: str
    guard_reasons: Sequence[str]
    ratio: float | None
    ratio_before: float | None
    bonus: float | None
    bonus_before: float | None
    failing: Sequence[str]
    wanted: Mapping[str, int] = field(default_factory=dict)


def daily_summary(facts: DayFacts, dry_run: bool) -> tuple[str, str]:
    grabbed = "would grab" if dry_run else "grabbed"
    lines = [f"Last 24 h: {grabbed} {facts.grabbed}, imported {facts.imported}"]
    if facts.import_failures:
        lines[0] += f", {facts.import_failures} import(s) failed"
    guard = f"Account guard: {facts.guard.upper()}"
    if facts.guard != "ok" and facts.guard_reasons:
        guard += f" ({'; '.join(facts.guard_reasons)})"
    lines.append(guard)
    account = []
    if facts.ratio is not None:
        account.append(f"ratio {facts.ratio:.2f}{_change(facts.ratio, facts.ratio_before, '+.2f')}")
    if facts.bonus is not None:
        account.append(f"{facts.bonus:,.0f} bonus points{_change(facts.bonus, facts.bonus_before, '+,.0f')}")
    lines.append("MAM: " + ", ".join(account) if account else "MAM: no account reading yet")
    waiting = {state: n for state, n in facts.wanted.items() if n and state != "imported"}
    if waiting:
        lines.append("Wanted: " + ", ".join(f"{n} {state}" for state, n in sorted(waiting.items())))
    if facts.failing:
        lines.append("Failing:")
        lines.extend(f"• {problem}" for problem in facts.failing)
    else:
        lines.append("Nothing is failing.")
    return _finish("mamd daily summary", lines, 0, "mamd daily summary", dry_run)


def _change(now: float, before: float | None, spec: str) -> str:
    if before is None or now == before:
        return ""
    return f" ({format(now - before, spec)})"


def test_message(target: str, service: str, host: str, dry_run: bool) -> tuple[str, str]:
    lines = [f"A test from mamd on {host} to {target} ({service}): if you read this, it works."]
    if dry_run:
        lines.append("mamd runs in dry run: it decides and tells, and changes nothing.")
    return _finish("mamd test notification", lines, 0, f"mamd notify-test, {target}", dry_run)


def with_link(body: str, public_url: str | None) -> str:
    """The body with the link to mamd's status, when `http.public_url` gives its address."""
    if not public_url:
        return body
    return f"{body}\n{public_url.rstrip('/')}/status"


def _refer(items: Sequence[Item]) -> str:
    ids = sorted(item.event_id for item in items)
    if len(ids) == 1:
        return f"mamd event {ids[0]}"
    more = "…" if len(ids) > MAX_LISTED else ""
    return f"mamd events {', '.join(str(i) for i in ids[:MAX_LISTED])}{more}"


def _finish(title: str, lines: Sequence[str], more: int, reference: str, dry_run: bool) -> tuple[str, str]:
    shown = list(lines[:MAX_LISTED])
    hidden = len(lines) - len(shown) + max(0, more)
    if hidden > 0:
        shown.append(f"… and {hidden} more")
    body = _cut("\n".join(shown), MAX_BODY_CHARS) + f"\n{reference}"
    return _cut((DRY_RUN if dry_run else "") + title, MAX_TITLE_CHARS), body


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
