"""Library-wide summaries: narrators, filterdata, stats and search."""

from __future__ import annotations

from collections import Counter
from typing import Any

from mamd.sim.abs import files as abs_files
from mamd.sim.abs import render as abs_render
from mamd.sim.abs.model import Item, Library, distinct
from mamd.sim.abs.query import book_counts

JSON = dict[str, Any]


def narrators(library: Library) -> JSON:
    """`{"narrators": [{id, name, numBooks}]}` by name; the id is the URL-encoded base64 of the name."""
    counts = Counter(name for item in library.items.values() for name in item.narrators)
    return {
        "narrators": [
            {"id": abs_render.narrator_id(name), "name": name, "numBooks": counts[name]}
            for name in sorted(counts, key=str.lower)
        ]
    }


def filterdata(library: Library, now_ms: int) -> JSON:
    """The lists in the order the books were added. The `…Count` fields are 0, as the real server
    answered; `numIssues` counts missing and invalid items."""
    items = library.by_added()
    author_ids = distinct(author.id for item in items for author in item.authors)
    series_ids = distinct(link.series.id for item in items for link in item.series)
    return {
        "authors": [{"id": key, "name": library.authors[key].name} for key in author_ids],
        "genres": distinct(genre for item in items for genre in item.genres),
        "tags": distinct(tag for item in items for tag in item.tags),
        "series": [{"id": key, "name": library.series[key].name} for key in series_ids],
        "narrators": distinct(name for item in items for name in item.narrators),
        "languages": distinct(item.language for item in items if item.language),
        "publishers": distinct(item.publisher for item in items if item.publisher),
        "publishedDecades": distinct(_decade(item) for item in items if _decade(item)),
        "bookCount": 0,
        "authorCount": 0,
        "seriesCount": 0,
        "podcastCount": 0,
        "numIssues": sum(1 for item in items if item.has_issue),
        "loadedAt": now_ms,
    }


def _decade(item: Item) -> str:
    year = item.published_year or ""
    return f"{year[:3]}0" if len(year) == 4 and year.isdigit() else ""


def stats(library: Library) -> JSON:
    items = list(library.items.values())
    counts = book_counts(library)
    genres = Counter(genre for item in items for genre in item.genres)
    largest = sorted(items, key=lambda item: item.size, reverse=True)[:10]
    longest = sorted(items, key=lambda item: item.duration, reverse=True)[:10]
    authors = sorted(
        (a for a in library.authors.values() if counts.get(a.id)), key=lambda a: counts[a.id], reverse=True
    )
    return {
        "largestItems": [{"id": item.id, "title": item.title, "size": item.size} for item in largest],
        "totalAuthors": len(authors),
        "authorsWithCount": [{"id": a.id, "name": a.name, "count": counts[a.id]} for a in authors],
        "totalGenres": len(genres),
        "genresWithCount": [{"genre": genre, "count": count} for genre, count in genres.most_common()],
        "totalItems": len(items),
        "longestItems": [
            {"id": item.id, "title": item.title, "duration": abs_files.number(item.duration)}
            for item in longest
        ],
        "totalSize": sum(item.size for item in items),
        "totalDuration": round(sum(item.duration for item in items), 6),
        "numAudioTracks": sum(item.num_audio for item in items),
    }


def search(library: Library, query: str, limit: int) -> JSON:
    """Case-insensitive matches of titles (with subtitles, ASINs, ISBNs), narrators, tags, genres, series
    and authors, at most `limit` of each. Series hits list their books in the plain shape with EMPTY
    `authors` and `series` arrays, as the real server does."""
    needle = query.lower()
    items = library.by_added()
    books: list[JSON] = []
    for item in items:
        match = _book_match(item, needle)
        if match is not None:
            books.append(
                {
                    "libraryItem": abs_render.expanded_item(library, item),
                    "matchKey": match[0],
                    "matchText": match[1],
                }
            )
            if len(books) >= limit:
                break
    narrator_counts = Counter(name for item in items for name in item.narrators if needle in name.lower())
    tag_counts = Counter(tag for item in items for tag in item.tags if needle in tag.lower())
    genre_counts = Counter(genre for item in items for genre in item.genres if needle in genre.lower())
    series_hits = [series for series in library.series.values() if needle in series.name.lower()][:limit]
    counts = book_counts(library)
    author_hits = [a for a in library.authors.values() if needle in a.name.lower() and counts.get(a.id)]
    return {
        "book": books,
        "narrators": [{"name": name, "numBooks": n} for name, n in list(narrator_counts.items())[:limit]],
        "tags": [{"name": tag, "numItems": n} for tag, n in list(tag_counts.items())[:limit]],
        "genres": [{"name": genre, "numItems": n} for genre, n in list(genre_counts.items())[:limit]],
        "series": [
            {
                "series": abs_render.series_object(library, series),
                "books": [
                    abs_render.plain_item(library, item, structured=False)
                    for item in items
                    if item.link_to(series.id) is not None
                ],
            }
            for series in series_hits
        ],
        "authors": [
            {**abs_render.author_object(library, a), "numBooks": counts[a.id]} for a in author_hits[:limit]
        ],
    }


def _book_match(item: Item, needle: str) -> tuple[str, str] | None:
    for key, value in (
        ("title", item.title),
        ("subtitle", item.subtitle),
        ("asin", item.asin),
        ("isbn", item.isbn),
    ):
        if value and needle in value.lower():
            return key, value
    return None
