"""An item's files as ABS shows them: `audioFiles`, `tracks`, `libraryFiles`, `chapters`.

Items read from disk carry their real file entries; generated items get theirs synthesized here from
their audio plan, the same way every time.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

from mamd.sim.abs.model import AUDIO_EXTENSIONS, FileEntry, Item

JSON = dict[str, Any]

# (format, codec, mimeType, language, timeBase) as ffprobe reports them to ABS
_AUDIO_FORMATS: dict[str, tuple[str, str, str, str | None, str]] = {
    ".m4b": ("QuickTime / MOV", "aac", "audio/mp4", "und", "1/44100"),
    ".m4a": ("QuickTime / MOV", "aac", "audio/mp4", "und", "1/44100"),
    ".mp3": ("MP2/3 (MPEG audio layer 2/3)", "mp3", "audio/mpeg", None, "1/14112000"),
    ".flac": ("raw FLAC", "flac", "audio/flac", None, "1/44100"),
    ".ogg": ("Ogg", "vorbis", "audio/ogg", None, "1/44100"),
    ".opus": ("Ogg", "opus", "audio/ogg", None, "1/48000"),
}
_FILE_TYPES = {
    ".jpg": "image",
    ".jpeg": "image",
    ".png": "image",
    ".webp": "image",
    ".json": "metadata",
    ".opf": "metadata",
    ".nfo": "metadata",
    ".abs": "metadata",
    ".txt": "text",
    ".epub": "ebook",
    ".pdf": "ebook",
    ".mobi": "ebook",
    ".azw3": "ebook",
}
_ILLEGAL = re.compile(r'[\\/:*?"<>|]')
# MPEG-2 layer III frames at 22.05 kHz hold 576 samples; the encoder adds one frame of padding, which is why
# ABS reports 5.041633 s for a 5 s mp3.
_MP3_FRAME = 576 / 22050


def file_type(ext: str) -> str:
    """ABS's `fileType` of a library file: audio, image, metadata, text, ebook or unknown."""
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    return _FILE_TYPES.get(ext, "unknown")


def padded_duration(seconds: float, ext: str) -> float:
    """The duration ffprobe reports for audio of `seconds` nominal length."""
    if ext != ".mp3" or seconds <= 0:
        return seconds
    return round((math.ceil(seconds / _MP3_FRAME) + 1) * _MP3_FRAME, 6)


def audio_size(seconds: float, bit_rate: int) -> int:
    """Bytes of an audio file of that length and bit rate, with a small header."""
    return int(seconds * bit_rate / 8) + 600


def safe_name(title: str) -> str:
    return _ILLEGAL.sub("", title).strip() or "Untitled"


def number(value: float) -> float | int:
    """Durations as JavaScript prints them: whole numbers without a fraction, others to 6 places."""
    return int(value) if float(value).is_integer() else round(value, 6)


def files_of(item: Item) -> tuple[FileEntry, ...]:
    """The item's files, audio first: the real ones, or those its audio plan describes."""
    if item.files is not None:
        return item.files
    base = int(item.ino)
    stem = safe_name(item.title)
    tagged_mp3 = item.audio_ext == ".mp3" and item.tag_keys is not None
    entries = []
    for part in range(1, item.parts + 1):
        name = f"{stem}{item.audio_ext}" if item.parts == 1 else f"{stem} - Part {part:02d}{item.audio_ext}"
        entries.append(
            FileEntry(
                name,
                str(base + part),
                item.part_size,
                item.mtime_ms - 200 + part,
                item.mtime_ms - 200 + part,
                item.birthtime_ms + part,
                item.added_at - 1,
                item.part_duration,
                item.embedded_chapters if item.parts == 1 else 0,
                part if tagged_mp3 else None,
                part if item.parts > 1 else None,
            )
        )
    for offset, (name, size) in enumerate(item.sidecars, start=item.parts + 1):
        entries.append(
            FileEntry(
                name, str(base + offset), size, item.mtime_ms, item.mtime_ms, item.birthtime_ms, item.added_at
            )
        )
    return tuple(entries)


def audio_entries(item: Item) -> list[FileEntry]:
    return [entry for entry in files_of(item) if entry.ext in AUDIO_EXTENSIONS]


def item_path(folder_path: str, item: Item) -> str:
    return f"{folder_path}/{item.rel_path}"


def cover_path(folder_path: str, item: Item) -> str | None:
    if item.cover_file is None:
        return None
    return (
        item_path(folder_path, item) if item.is_file else f"{item_path(folder_path, item)}/{item.cover_file}"
    )


def _file_path(folder_path: str, item: Item, entry: FileEntry) -> str:
    # A single audio file in the library root is its own item: its path is the file's path
    return (
        item_path(folder_path, item) if item.is_file else f"{item_path(folder_path, item)}/{entry.rel_path}"
    )


def file_metadata(folder_path: str, item: Item, entry: FileEntry) -> JSON:
    return {
        "filename": entry.filename,
        "ext": entry.ext,
        "path": _file_path(folder_path, item, entry),
        "relPath": entry.rel_path,
        "size": entry.size,
        "mtimeMs": entry.mtime_ms,
        "ctimeMs": entry.ctime_ms,
        "birthtimeMs": entry.birthtime_ms,
    }


def library_files(folder_path: str, item: Item) -> list[JSON]:
    return [
        {
            "ino": entry.ino,
            "metadata": file_metadata(folder_path, item, entry),
            "isSupplementary": None,
            "addedAt": entry.added_at,
            "updatedAt": entry.added_at,
            "fileType": file_type(entry.ext),
        }
        for entry in files_of(item)
    ]


def _embedded_chapters(entry: FileEntry) -> list[JSON]:
    if not entry.chapters:
        return []
    step = entry.duration / entry.chapters
    return [
        {"start": number(n * step), "end": number((n + 1) * step), "title": f"Chapter {n + 1}", "id": n}
        for n in range(entry.chapters)
    ]


def chapters(item: Item) -> list[JSON]:
    """Embedded chapters of a single file, else one chapter per file titled "<Title> - Part N"."""
    audio = audio_entries(item)
    if len(audio) == 1:
        return _embedded_chapters(audio[0])
    result, start = [], 0.0
    for n, entry in enumerate(audio):
        end = start + entry.duration
        result.append(
            {"id": n, "start": number(start), "end": number(end), "title": f"{item.title} - Part {n + 1}"}
        )
        start = end
    return result


def meta_tags(item: Item, index: int, count: int) -> dict[str, str]:
    """The audio tags ffprobe found. Untagged files (every file read from disk here) have none."""
    keys = item.tag_keys
    if keys is None:
        return {}
    first_series = item.series[0] if item.series else None
    tags = {
        "tagAlbum": item.title,
        "tagArtist": item.author_name,
        "tagGenre": "; ".join(item.genres),
        "tagTitle": item.title if count == 1 else f"{item.title} - Part {index}",
    }
    if item.audio_ext == ".mp3":
        tags["tagTrack"] = f"{index}/{count}"
    if "series" in keys and first_series is not None:
        tags["tagSeries"] = first_series.series.name
        tags["tagSeriesPart"] = first_series.sequence or ""
    tags["tagAlbumArtist"] = item.author_name
    tags["tagDate"] = item.published_year or ""
    if "composer" in keys:
        tags["tagComposer"] = item.narrator_name
    tags["tagPublisher"] = item.publisher or ""
    tags["tagComment"] = f"Audiobook: {item.title}"
    tags["tagEncoder"] = "Lavf59.27.100"
    if "isbn" in keys and item.isbn:
        tags["tagIsbn"] = item.isbn
    if "asin" in keys and item.asin:
        tags["tagASIN"] = item.asin
    return tags


def audio_files(folder_path: str, item: Item) -> list[JSON]:
    audio = audio_entries(item)
    rendered = []
    for index, entry in enumerate(audio, start=1):
        fmt, codec, mime, language, time_base = _AUDIO_FORMATS.get(entry.ext, _AUDIO_FORMATS[".mp3"])
        bit_rate = round((entry.size - 600) * 8 / entry.duration) if entry.duration > 0 else 0
        rendered.append(
            {
                "index": index,
                "ino": entry.ino,
                "metadata": file_metadata(folder_path, item, entry),
                "addedAt": entry.added_at,
                "updatedAt": entry.added_at,
                "trackNumFromMeta": entry.track,
                "discNumFromMeta": None,
                "trackNumFromFilename": entry.track_from_filename,
                "discNumFromFilename": None,
                "manuallyVerified": False,
                "exclude": False,
                "error": None,
                "format": fmt,
                "duration": number(entry.duration),
                "bitRate": max(bit_rate, 0),
                "language": language,
                "codec": codec,
                "timeBase": time_base,
                "channels": 1,
                "channelLayout": "mono",
                "chapters": _embedded_chapters(entry),
                "embeddedCoverArt": None,
                "metaTags": meta_tags(item, index, len(audio)),
                "mimeType": mime,
            }
        )
    return rendered


def tracks(folder_path: str, item: Item, rendered_audio: list[JSON]) -> list[JSON]:
    """The audio files plus `title`, `startOffset` and `contentUrl` (expanded items only)."""
    result, offset = [], 0.0
    for audio in rendered_audio:
        result.append(
            {
                **audio,
                "title": audio["metadata"]["filename"],
                "startOffset": number(offset),
                "contentUrl": f"/api/items/{item.id}/file/{audio['ino']}",
            }
        )
        offset += float(audio["duration"])
    return result


def summarize(item: Item) -> Item:
    """Store the aggregates of the item's files on it (size, duration, counts, cover) and return it."""
    entries = files_of(item)
    audio = [entry for entry in entries if entry.ext in AUDIO_EXTENSIONS]
    images = [entry for entry in entries if file_type(entry.ext) == "image"]
    item.size = sum(entry.size for entry in entries)
    item.media_size = sum(entry.size for entry in audio)
    item.duration = round(sum(entry.duration for entry in audio), 6)
    item.num_audio = len(audio)
    item.num_files = len(entries)
    item.num_chapters = audio[0].chapters if len(audio) == 1 else len(audio) if len(audio) > 1 else 0
    cover = next((entry for entry in images if entry.filename.lower().startswith("cover.")), None)
    item.cover_file = (cover or images[0]).rel_path if images else None
    return item


def summarize_plan(item: Item) -> Item:
    """`summarize` for an item without real files, computed from its audio plan without building them."""
    item.media_size = item.parts * item.part_size
    item.size = item.media_size + sum(size for _, size in item.sidecars)
    item.duration = round(item.parts * item.part_duration, 6)
    item.num_audio = item.parts
    item.num_files = item.parts + len(item.sidecars)
    item.num_chapters = item.embedded_chapters if item.parts == 1 else item.parts
    item.cover_file = _cover_of(item.sidecars)
    return item


@functools.lru_cache(maxsize=256)
def _cover_of(sidecars: tuple[tuple[str, int], ...]) -> str | None:
    images = [name for name, _ in sidecars if file_type(name[name.rfind(".") :].lower()) == "image"]
    cover = next((name for name in images if name.lower().startswith("cover.")), None)
    return (cover or images[0]) if images else None
