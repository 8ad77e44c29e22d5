"""The JSON shapes of ABS 2.36, rendered per request from the library's records.

Each function reproduces one shape of `tests/fixtures/abs-samples/`, key for key and in the same order:
the list item (always "minified", joined strings only), the plain item (structured metadata, no durations),
the expanded item, series, authors, narrators and the library object.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from mamd.sim.abs import files as abs_files
from mamd.sim.abs.model import SERVER_VERSION, Author, Item, Library, Series, SeriesLink, ignore_prefix

JSON = dict[str, Any]


def _media_id(library: Library, item: Item) -> str:
    return library.ids.make("media", item.id)


def _item_head(library: Library, item: Item) -> JSON:
    return {
        "id": item.id,
        "ino": item.ino,
        "oldLibraryItemId": None,
        "libraryId": library.id,
        "folderId": library.folder_id,
        "path": abs_files.item_path(library.folder_path, item),
        "relPath": item.rel_path,
        "isFile": item.is_file,
        "mtimeMs": item.mtime_ms,
        "ctimeMs": item.ctime_ms,
        "birthtimeMs": item.birthtime_ms,
        "addedAt": item.added_at,
        "updatedAt": item.updated_at,
    }


def _metadata_tail(item: Item) -> JSON:
    return {
        "genres": list(item.genres),
        "publishedYear": item.published_year,
        "publishedDate": None,
        "publisher": item.publisher,
        "description": item.description,
        "isbn": item.isbn,
        "asin": item.asin,
        "language": item.language,
        "explicit": item.explicit,
        "abridged": item.abridged,
    }


def list_item(library: Library, item: Item) -> JSON:
    """The items-list shape: only joined strings, no structured authors, narrators or series."""
    return {
        **_item_head(library, item),
        "isMissing": item.is_missing,
        "isInvalid": item.is_invalid,
        "mediaType": "book",
        "media": {
            "id": _media_id(library, item),
            "metadata": {
                "title": item.title,
                "titleIgnorePrefix": ignore_prefix(item.title),
                "subtitle": item.subtitle,
                "authorName": item.author_name,
                "authorNameLF": item.author_name_lf,
                "narratorName": item.narrator_name,
                "seriesName": item.series_name,
                **_metadata_tail(item),
            },
            "coverPath": abs_files.cover_path(library.folder_path, item),
            "tags": list(item.tags),
            "numTracks": item.num_audio,
            "numAudioFiles": item.num_audio,
            "numChapters": item.num_chapters,
            "duration": abs_files.number(item.duration),
            "size": item.media_size,
        },
        "numFiles": item.num_files,
        "size": item.size,
    }


def _structured_metadata(item: Item, *, structured: bool = True) -> JSON:
    return {
        "title": item.title,
        "subtitle": item.subtitle,
        # Search hits under `series[].books[]` carry empty authors and series arrays, as in ABS
        "authors": [{"id": a.id, "name": a.name} for a in item.authors] if structured else [],
        "narrators": list(item.narrators),
        "series": [series_link(link) for link in item.series] if structured else [],
        **_metadata_tail(item),
    }


def series_link(link: SeriesLink) -> JSON:
    return {"id": link.series.id, "name": link.series.name, "sequence": link.sequence}


def plain_item(library: Library, item: Item, *, structured: bool = True) -> JSON:
    """`GET /api/items/:id` without `expanded`: structured metadata and file lists, no durations."""
    return {
        **_item_head(library, item),
        "lastScan": item.last_scan,
        "scanVersion": SERVER_VERSION,
        "isMissing": item.is_missing,
        "isInvalid": item.is_invalid,
        "mediaType": "book",
        "media": {
            "id": _media_id(library, item),
            "libraryItemId": item.id,
            "metadata": _structured_metadata(item, structured=structured),
            "coverPath": abs_files.cover_path(library.folder_path, item),
            "tags": list(item.tags),
            "audioFiles": abs_files.audio_files(library.folder_path, item),
            "chapters": abs_files.chapters(item),
            "ebookFile": None,
        },
        "libraryFiles": abs_files.library_files(library.folder_path, item),
    }


def expanded_item(library: Library, item: Item, *, progress: bool = False) -> JSON:
    """`?expanded=1`: adds sizes, durations, tracks and the joined strings; `userMediaProgress` with
    `include=progress` only."""
    audio = abs_files.audio_files(library.folder_path, item)
    chapters = abs_files.chapters(item)
    description = item.description
    rendered: JSON = {
        **_item_head(library, item),
        "isMissing": item.is_missing,
        "isInvalid": item.is_invalid,
        "mediaType": "book",
        "media": {
            "id": _media_id(library, item),
            "metadata": {
                **_structured_metadata(item),
                "titleIgnorePrefix": ignore_prefix(item.title),
                "authorName": item.author_name,
                "authorNameLF": item.author_name_lf,
                "narratorName": item.narrator_name,
                "seriesName": item.series_name,
                "descriptionPlain": description,
            },
            "coverPath": abs_files.cover_path(library.folder_path, item),
            "tags": list(item.tags),
            "numTracks": len(audio),
            "numAudioFiles": len(audio),
            "numChapters": len(chapters),
            "duration": abs_files.number(item.duration),
            "size": item.media_size,  # the audio only; the item's `size` counts every file
            "libraryItemId": item.id,
            "audioFiles": audio,
            "chapters": chapters,
            "ebookFile": None,
            "tracks": abs_files.tracks(library.folder_path, item, audio),
        },
        "numFiles": item.num_files,
        "size": item.size,
        "lastScan": item.last_scan,
        "scanVersion": SERVER_VERSION,
        "libraryFiles": abs_files.library_files(library.folder_path, item),
    }
    if progress:
        rendered["userMediaProgress"] = None
    return rendered


def series_object(library: Library, series: Series) -> JSON:
    return {
        "id": series.id,
        "name": series.name,
        "nameIgnorePrefix": ignore_prefix(series.name),
        "description": series.description,
        "addedAt": series.added_at,
        "updatedAt": series.updated_at,
        "libraryId": library.id,
    }


def author_object(library: Library, author: Author) -> JSON:
    return {
        "id": author.id,
        "asin": author.asin,
        "name": author.name,
        "description": author.description,
        "imagePath": None,
        "libraryId": library.id,
        "addedAt": author.added_at,
        "updatedAt": author.updated_at,
    }


def narrator_id(name: str) -> str:
    """Narrators have no database id: ABS uses the URL-encoded base64 of the name."""
    return quote(base64.b64encode(name.encode()).decode(), safe="")


def library_object(library: Library) -> JSON:
    return {
        "id": library.id,
        "name": library.name,
        "folders": [
            {
                "id": library.folder_id,
                "fullPath": library.folder_path,
                "libraryId": library.id,
                "addedAt": library.created_at + 7,
            }
        ],
        "displayOrder": 1,
        "icon": "database",
        "mediaType": "book",
        "provider": "audible",
        "settings": {
            "coverAspectRatio": 1,
            "disableWatcher": library.disable_watcher,
            "autoScanCronExpression": None,
            "skipMatchingMediaWithAsin": False,
            "skipMatchingMediaWithIsbn": False,
            "audiobooksOnly": False,
            "epubsAllowScriptedContent": False,
            "hideSingleBookSeries": False,
            "onlyShowLaterBooksInContinueSeries": False,
            "metadataPrecedence": list(library.metadata_precedence),
            "markAsFinishedPercentComplete": None,
            "markAsFinishedTimeRemaining": 10,
        },
        "lastScan": library.last_scan,
        "lastScanVersion": SERVER_VERSION if library.last_scan is not None else None,
        "createdAt": library.created_at,
        "lastUpdate": library.last_update,
    }
