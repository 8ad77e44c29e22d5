"""Search as `POST /tor/js/loadSearchJSONbasic.php` answers it: parse, filter, sort, page.

Pure functions over the catalogue; the handler only reads the body and sends the answer.

- Text: every word of `tor.text` must be a word of the fields chosen by `srchIn` (the object form
  `{"title": "true", …}` or the list form `["title", …]`; default title, author, narrator and series); an
  empty text lists everything that passes the filters (a "browse"). MAM's search is a plain full-text
  match, and the simulator folds no more than it does: case only. Words are split at spaces and lose the
  punctuation around them (`Reach:` is `reach`), but keep what is inside (`11/22/63`, `Warhawk's`,
  `J.R.R`); `&` is a word of its own, and accented letters stay as written. So `Les Miserables` does not
  find `Les Misérables`, `and` does not find `&`, `11.22.63` does not find `11/22/63`, `02` is not `2`,
  and a straight apostrophe is not a curly one: seshat's notes on MAM's index (apostrophes kept inside
  words, `2` and `02` and spaced initials told apart), and searches that missed such titles on MAM.
- Filters: `main_cat`, `cat` (`"0"` = every sub-category), `browse_lang`, `browseFlagsHideVsShow` with
  `browseFlags`, `searchType`, `startDate` / `endDate`, and `id` (one torrent).
- Sorting: `default` (newest first), `random` (stable for one query, so pages do not overlap), and
  `<key>Asc` / `<key>Desc` for title, file (file count), size, date, seeders, leechers, snatched and
  category; ties go by id.
- Paging: `tor.startNumber` is a string; `perpage` counts only at the top level of the body,
  a `perpage` inside `tor` is ignored. The answer is `{perpage, start, data, total, found}`
  with `total` the rows of this page and `found` every match, or `{"error": "Nothing returned, out of N"}`
  when nothing matches. A page past the end has empty `data`.
- `isbn`, `description` and `dlLink` at the top level add those keys to each row; seshat found other
  top-level flags ignored.
- No seeder or size limits are applied, as on the real site.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mamd.sim.mam.rows import Row, render_row

DEFAULT_PERPAGE = 25  # what a body without a top-level `perpage` gets (assumed; MAM does not document it)
MAX_PERPAGE = 1000
FIELDS = frozenset({"title", "author", "narrator", "series", "description", "tags", "filenames"})
DEFAULT_FIELDS = frozenset({"title", "author", "narrator", "series"})
_TRUE = (True, 1, "1", "true", "True", "on", "yes")
# what a word loses at its ends; `&` stays a word, as MAM shows it
_EDGES = string.punctuation.replace("&", "") + "“”‘’«»…"


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    fields: frozenset[str] = DEFAULT_FIELDS
    search_type: str = "all"
    main_cats: frozenset[int] = frozenset()
    cats: frozenset[int] = frozenset()
    languages: frozenset[int] = frozenset()
    show_flags: bool = False
    flags: int = 0
    start_date: str = ""
    end_date: str = ""
    sort_type: str = "default"
    start: int = 0
    torrent_id: int = 0
    perpage: int = DEFAULT_PERPAGE
    isbn: bool = False
    description: bool = False
    dl_link: bool = False
    problems: tuple[str, ...] = field(default=(), compare=False)


def _ints(value: Any) -> frozenset[int]:
    """`["13"]`, `[13]`, `"13"` → {13}; unparsable entries are skipped, 0 means "all" (empty set)."""
    items = value if isinstance(value, list) else [value] if value not in (None, "") else []
    found = set()
    for item in items:
        try:
            number = int(item)
        except (TypeError, ValueError):
            continue
        if number:
            found.add(number)
    return frozenset(found)


def _fields(value: Any) -> frozenset[str]:
    if isinstance(value, dict):
        chosen = {key for key, flag in value.items() if flag in _TRUE}
    elif isinstance(value, list):
        chosen = {str(key) for key in value}
    else:
        return DEFAULT_FIELDS
    return frozenset(chosen & FIELDS) or DEFAULT_FIELDS


def parse_query(body: Mapping[str, Any], *, string_start_number: bool = True) -> SearchQuery:
    """The search a body asks for. With `string_start_number`, a `startNumber` that is not a string is
    ignored (page 0 again), so a client that sends a number sees its paging go nowhere."""
    tor = body.get("tor")
    tor = tor if isinstance(tor, dict) else {}
    problems: list[str] = []
    raw_start = tor.get("startNumber", "0")
    start = 0
    if isinstance(raw_start, str) or not string_start_number:
        try:
            start = max(0, int(raw_start))
        except (TypeError, ValueError):
            problems.append(f"startNumber {raw_start!r} is not a number")
    else:
        problems.append("startNumber is not a string")
    perpage = DEFAULT_PERPAGE
    if "perpage" in body:  # only the top level counts; tor.perpage is silently ignored
        try:
            perpage = min(MAX_PERPAGE, max(1, int(body["perpage"])))
        except (TypeError, ValueError):
            problems.append(f"perpage {body['perpage']!r} is not a number")
    flags = 0
    for bit in _ints(tor.get("browseFlags")):
        flags |= bit
    try:
        torrent_id = int(tor.get("id") or 0)
    except (TypeError, ValueError):
        torrent_id = 0
    return SearchQuery(
        text=str(tor.get("text") or ""),
        fields=_fields(tor.get("srchIn")),
        search_type=str(tor.get("searchType") or "all"),
        main_cats=_ints(tor.get("main_cat")),
        cats=_ints(tor.get("cat")),
        languages=_ints(tor.get("browse_lang")),
        show_flags=str(tor.get("browseFlagsHideVsShow", "0")) == "1",
        flags=flags,
        start_date=str(tor.get("startDate") or ""),
        end_date=str(tor.get("endDate") or ""),
        sort_type=str(tor.get("sortType") or "default"),
        start=start,
        torrent_id=torrent_id,
        perpage=perpage,
        isbn=body.get("isbn") in _TRUE,
        description=body.get("description") in _TRUE,
        dl_link=body.get("dlLink") in _TRUE,
        problems=tuple(problems),
    )


def _haystack(row: Row, fields: frozenset[str], filenames: Callable[[Row], Iterable[str]]) -> frozenset[str]:
    parts: list[str] = []
    if "title" in fields:
        parts.append(row.title)
    if "author" in fields:
        parts.extend(author.name for author in row.authors)
    if "narrator" in fields:
        parts.extend(narrator.name for narrator in row.narrators)
    if "series" in fields:
        parts.extend(series.name for series in row.series)
    if "description" in fields:
        parts.append(row.description)
    if "tags" in fields:
        parts.append(row.tags)
    if "filenames" in fields:
        parts.extend(filenames(row))
    return frozenset(_words("\n".join(parts)))


def _words(text: str) -> list[str]:
    """The words MAM matches: split at spaces, lower case, without the punctuation around them."""
    return [word for word in (raw.strip(_EDGES) for raw in text.lower().split()) if word]


def _search_type(row: Row, search_type: str) -> bool:
    if search_type == "active":
        return row.seeders > 0
    if search_type == "inactive":
        return row.seeders == 0
    if search_type == "fl":
        return bool(row.free or row.personal_freeleech)
    if search_type == "VIP":
        return bool(row.vip)
    if search_type == "fl-VIP":
        return bool(row.free or row.personal_freeleech or row.vip or row.fl_vip)
    if search_type == "nVIP":
        return not row.vip
    return True  # all, nMeta, nMeta2 and anything unknown


class WordIndex:
    """Which rows hold each word, for each set of fields searched: a search looks up its words instead of
    reading every row. Built on first use per set of fields, and again when rows come or go (the text of a
    row never changes: the simulator's controls change only its numbers)."""

    def __init__(self) -> None:
        self._postings: dict[frozenset[str], dict[str, set[int]]] = {}
        self._rows: frozenset[int] = frozenset()

    def rows_with(
        self,
        rows: Mapping[int, Row],
        fields: frozenset[str],
        words: list[str],
        filenames: Callable[[Row], Iterable[str]],
    ) -> list[Row]:
        if self._rows != rows.keys():
            self._postings.clear()
            self._rows = frozenset(rows)
        postings = self._postings.get(fields)
        if postings is None:
            postings = self._postings[fields] = {}
            for row in rows.values():
                for word in _haystack(row, fields, filenames):
                    postings.setdefault(word, set()).add(row.id)
        found: set[int] | None = None
        for word in sorted(set(words), key=lambda w: len(postings.get(w, ()))):
            found = set(postings.get(word, ())) if found is None else found & postings.get(word, set())
            if not found:
                return []
        return [rows[tid] for tid in found or ()]


def passes_filters(row: Row, query: SearchQuery) -> bool:
    """Everything but the words: categories, language, flags, dates, the search type, one torrent's id."""
    if query.torrent_id and row.id != query.torrent_id:
        return False
    if query.main_cats and row.main_cat not in query.main_cats:
        return False
    if query.cats and row.category not in query.cats:
        return False
    if query.languages and row.language not in query.languages:
        return False
    if query.flags:
        has = bool(row.browseflags & query.flags)
        if has != query.show_flags:
            return False
    day = row.added[:10]
    if (query.start_date and day < query.start_date) or (query.end_date and day > query.end_date):
        return False
    return _search_type(row, query.search_type)


_SORT_KEYS: dict[str, Callable[[Row], Any]] = {
    "title": lambda row: row.title.lower(),
    "file": lambda row: row.numfiles,
    "size": lambda row: row.size_bytes,
    "date": lambda row: row.added,
    "seeders": lambda row: row.seeders,
    "leechers": lambda row: row.leechers,
    "snatched": lambda row: row.times_completed,
    "category": lambda row: row.catname,
}


def sort_rows(rows: list[Row], sort_type: str, *, shuffle_seed: str) -> list[Row]:
    if sort_type == "random":
        ordered = sorted(rows, key=lambda row: row.id)
        random.Random(shuffle_seed).shuffle(ordered)
        return ordered
    for key, getter in _SORT_KEYS.items():
        for suffix, descending in (("Asc", False), ("Desc", True)):
            if sort_type == f"{key}{suffix}":
                return sorted(rows, key=lambda row: (getter(row), row.id), reverse=descending)
    return sorted(rows, key=lambda row: (row.added, row.id), reverse=True)  # default: newest first


def search(
    rows: Mapping[int, Row],
    query: SearchQuery,
    filenames: Callable[[Row], Iterable[str]] = lambda row: (),
    index: WordIndex | None = None,
) -> tuple[list[Row], int]:
    """The rows of the requested page and the number of matches in all; `index` keeps the rows' words
    between searches."""
    words = _words(query.text)
    if not words:
        candidates: Iterable[Row] = rows.values()
    else:
        candidates = (index or WordIndex()).rows_with(rows, query.fields, words, filenames)
    found = [row for row in candidates if passes_filters(row, query)]
    ordered = sort_rows(found, query.sort_type, shuffle_seed=f"{query.text}|{query.search_type}")
    return ordered[query.start : query.start + query.perpage], len(found)


def answer(page: list[Row], found: int, query: SearchQuery, catalogue_size: int) -> dict[str, Any]:
    """The JSON body: MAM's paged envelope, or the "Nothing returned" error when nothing matched."""
    if not found:
        return {"error": f"Nothing returned, out of {catalogue_size}"}
    data = [render_row(row, isbn=query.isbn, description=query.description, dl=query.dl_link) for row in page]
    return {"perpage": query.perpage, "start": query.start, "data": data, "total": len(data), "found": found}
