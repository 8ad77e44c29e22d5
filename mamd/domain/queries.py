"""What to type into MAM's search for a wanted book, and in which order.

MAM's search is a plain full-text match: every word of the query must be a word of the fields
searched, and it folds case but not accents, `&` against `and`, or punctuation inside a word
(`11/22/63`, `Warhawk's` against `Warhawk’s`: seshat's notes on MAM's index). A title written
one way by the library and another by the uploader is found only by a query spelled as the
uploader wrote it, so a book gets a short cascade:

1. its title and author as written (the words without the punctuation around them);
2. the title alone (the author may be written another way);
3. the series and the author, for a book wanted by its place in a series;
4. the title and author spelled otherwise: without accents, `&` for `and` or the reverse, the
   other apostrophe, punctuation inside words turned into spaces, and removed;
5. when no title query found anything acceptable, the author's audiobooks, newest first, over a
   few pages, matched locally; by the surname alone when MAM knows nothing by the full name.

The search job stops at the first query that yields a release it is sure of, and never sends
more than `MAX_REQUESTS_PER_BOOK` requests for one book.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from mamd.domain.normalize import unaccented

TITLE_PAGES = 2
AUTHOR_PAGES = 3
MAX_REQUESTS_PER_BOOK = 12
# what MAM's index drops around a word; `&` is a word of its own
_EDGES = string.punctuation.replace("&", "") + "“”‘’«»…"
_INSIDE = re.compile(r"[^\w\s&]+")


@dataclass(frozen=True)
class Query:
    text: str
    fields: tuple[str, ...]
    pages: int
    sort: str = "default"
    kind: str = "title"  # title, spelling, series, author: for the logs


def words(text: str) -> str:
    """`Mistborn: The Hero of Ages (Unabridged)` → `Mistborn The Hero of Ages Unabridged`: each word as
    written, without the punctuation around it, which MAM's index drops too."""
    return " ".join(w for w in (raw.strip(_EDGES) for raw in text.split()) if w)


def _swap_and(text: str) -> str:
    tokens = text.split()
    if "&" in tokens:
        return " ".join("and" if t == "&" else t for t in tokens)
    return " ".join("&" if t.lower() == "and" else t for t in tokens)


def _swap_apostrophe(text: str) -> str:
    return text.replace("'", "’") if "'" in text else text.replace("’", "'")


def spellings(text: str) -> list[str]:
    """`text` as written, then each other way an uploader may have written it, once each."""
    written = words(text)
    out: list[str] = []
    for base in (written, unaccented(written)):
        for form in (
            base,
            _swap_and(base),
            _swap_apostrophe(base),
            " ".join(_INSIDE.sub(" ", base).split()),
            " ".join(_INSIDE.sub("", base).split()),
        ):
            if form and form not in out:
                out.append(form)
    return out


def title_queries(title: str | None, author: str, series: str | None, position: str | None) -> list[Query]:
    """Steps 1–4 of the cascade, without repeats."""
    planned: list[Query] = []
    if title:
        first, *others = spellings(f"{title} {author}".strip())
        planned.append(Query(first, ("title", "author"), TITLE_PAGES))
        planned.append(Query(words(title), ("title",), TITLE_PAGES))
    else:
        others = []
    if series and position:
        planned.append(Query(words(f"{series} {author}"), ("series", "author"), TITLE_PAGES, kind="series"))
    planned += [Query(text, ("title", "author"), TITLE_PAGES, kind="spelling") for text in others]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    unique = []
    for query in planned:
        if query.text and (query.text, query.fields) not in seen:
            seen.add((query.text, query.fields))
            unique.append(query)
    return unique


def author_queries(author: str) -> list[Query]:
    """Step 5: the author's name as written, then the surname alone (`Tolkien, J.R.R.` → `Tolkien`)."""
    name = words(author)
    last, comma, _ = author.partition(",")
    surname = words(last if comma else author.split()[-1] if author.split() else "")
    texts = [name] + ([surname] if surname and surname != name else [])
    return [Query(text, ("author",), AUTHOR_PAGES, "dateDesc", "author") for text in texts if text]
