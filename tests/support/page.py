"""Reading the status page as a person sees it: its text, and the state that fills every section."""

from __future__ import annotations

from html.parser import HTMLParser

from mamd.config.problems import ConfigError, Problem
from mamd.domain.account import AccountSnapshot, Counter
from mamd.domain.discovery import WantSpec, title_want_key
from mamd.runtime import Runtime
from mamd.searching.hold import write_held
from mamd.tasks import LoopState

DAY = 86400.0
GIB = 1024**3
# what uploaders and a library can hold, and a page must show as text: markup, quotes, right-to-left
HOSTILE_TITLE = "<script>document.title='pwned'</script> \"Quoted\" 'Book' ‮txet desrever‬"
HOSTILE_AUTHOR = "<img src=x onerror=\"document.title='pwned'\"> O'Brien עִבְרִית"
HOSTILE_EVENT = "</li><script>document.title='pwned'</script><b>bold</b> ‏משהו‏"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def page_text(html: str) -> str:
    """The words a person reads on the page (markup removed, entities decoded), space-separated."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def page_tags(html: str) -> list[str]:
    """Every element the page's markup opens, in order."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser.tags


async def fill(runtime: Runtime, now: float, *, ratio: float = 1.3) -> list[int]:
    """A month of account readings, two wanted books (one with a hostile title) and one whose grab failed
    for good, an event, a torrent at risk, an import that failed, a service down, a loop started again,
    searching held and a rejected edit: every section of the page has something to say."""
    for index in range(31 * 8):  # every three hours for 31 days, the last one now
        at = now - (31 * 8 - 1 - index) * 3 * 3600
        await runtime.account.add(
            AccountSnapshot(
                at=at,
                classname="Power User",
                ratio=ratio + 0.4 * (1 - index / (31 * 8)),
                uploaded=(500 + index) * GIB,
                downloaded=300 * GIB,
                seedbonus=40_000.0 + index * 100,
                wedges=3,
                counters={"unsat": Counter(12, 50), "seedHnr": Counter(0), "inactHnr": Counter(0)},
            )
        )
    specs = [
        WantSpec(title_want_key(HOSTILE_AUTHOR, HOSTILE_TITLE), "manual", HOSTILE_AUTHOR, HOSTILE_TITLE),
        WantSpec(title_want_key("Frank Herbert", "Dune"), "manual", "Frank Herbert", "Dune"),
        WantSpec(title_want_key("Ursula K. Le Guin", "Tehanu"), "manual", "Ursula K. Le Guin", "Tehanu"),
    ]
    await runtime.wanted.apply(specs, {}, [], now)
    books = await runtime.wanted.all()
    await runtime.wanted.searched(
        books[1].id, "skipped", "no release passed the rules: abridged", now + DAY, now
    )
    refused = "grab failed: MAM has no such torrent (5 times in a row: not searched again until asked)"
    await runtime.wanted.failed(books[2].id, refused, None, now)
    await runtime.torrents.seen("cd" * 20, "Robin Hobb - Assassin's Apprentice", now)
    await runtime.torrents.failed("cd" * 20, "the library folder is not mounted (tried 30 times)")
    await write_held(runtime.store, "3 downloads running already", now)
    runtime.loops.states["importer"] = LoopState("importer", "restarting", 2, "OSError: disk gone", now - 60)
    await runtime.events.add(now, "wanted.added", HOSTILE_EVENT, f"wanted:{books[0].id}")
    await runtime.torrents.seen("ab" * 20, "Brandon Sanderson - The Hero of Ages", now)
    await runtime.torrents.set_risk("ab" * 20, "its download is stopped")
    runtime.health.service("qbittorrent", "down", "connection refused by 127.0.0.1:1")
    error = ConfigError([Problem("/etc/mamd/mamd.yaml", 12, "limits.grabs_per_day", "must be at least 0")])
    runtime.config_state.rejected(error, now)
    return [book.id for book in books]
