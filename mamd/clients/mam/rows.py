"""Reading MAM's search rows and account answers, which are not what they seem.

`author_info`, `narrator_info`, `series_info`, `categories` and `mediainfo` are strings that
hold JSON; `size` is a human string in powers of 1024 (or, sometimes, plain bytes); `id`
is a number that some answers send as text. Every field is read tolerantly: what cannot
be read is left out and named in `problems`, never guessed.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from mamd.domain.account import AccountSnapshot, Counter
from mamd.domain.release import Release, SeriesTag

_SIZE = re.compile(r"^\s*([\d,]+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_UNITS = {
    **dict.fromkeys(("", "b", "byte", "bytes"), 1),
    **dict.fromkeys(("k", "kb", "kib"), 1024),
    **dict.fromkeys(("m", "mb", "mib"), 1024**2),
    **dict.fromkeys(("g", "gb", "gib"), 1024**3),
    **dict.fromkeys(("t", "tb", "tib"), 1024**4),
}
_BITRATE = re.compile(r"([\d.\s]+)\s*([kKmM])?", re.IGNORECASE)
# MAM's search language ids by the codes rows carry in `lang_code`; a code not listed here is
# not filtered by MAM, only by mamd
LANGUAGE_IDS = {
    "ENG": 1, "CHI": 2, "ZHO": 2, "SPA": 4, "BUR": 6, "AFR": 17, "BUL": 18, "CAT": 19, "CZE": 20, "DAN": 21,
    "DUT": 22, "FIN": 23, "HUN": 28, "ARA": 32, "BEN": 35, "FRE": 36, "GER": 37, "PER": 39, "TUR": 42,
    "ITA": 43, "POR": 52, "EST": 61,
}  # fmt: skip
LANGUAGE_CODES = {number: code for code, number in reversed(LANGUAGE_IDS.items())}
COUNTERS = ("unsat", "seedUnsat", "sSat", "seedHnr", "inactHnr", "inactUnsat", "inactSat", "leeching", "ite")


def parse_size(value: Any) -> int | None:
    """`"451.8 MiB"` → bytes, in powers of 1024 (MAM's "GB" too); a plain number is bytes."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _SIZE.match(value)
    factor = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or factor is None:
        return None
    return round(float(match.group(1).replace(",", "")) * factor)


def parse_bitrate(value: Any) -> int | None:
    """`"126k"`, `"64 kb/s"`, `"1.4M"` → bits per second."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if value > 1000 else int(value * 1000)
    if not isinstance(value, str):
        return None
    match = _BITRATE.match(value.strip())
    if not match:
        return None
    try:
        number = float(match.group(1).replace(" ", ""))
    except ValueError:
        return None
    unit = (match.group(2) or "k").lower()
    return round(number * (1_000_000 if unit == "m" else 1000))


def parse_duration(value: Any) -> int | None:
    """`"8:17:09"` or `"45:00"` → seconds."""
    if not isinstance(value, str):
        return None
    parts = value.strip().split(":")
    if not 2 <= len(parts) <= 3 or not all(p.strip().isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds


def _json_field(raw: dict[str, Any], key: str, problems: list[str]) -> Any:
    value = raw.get(key)
    if value is None or value == "" or isinstance(value, dict | list):
        return value
    if not isinstance(value, str):
        problems.append(key)
        return None
    try:
        return json.loads(value)
    except ValueError:
        problems.append(key)
        return None


def _names(data: Any) -> tuple[str, ...]:
    if isinstance(data, dict):
        return tuple(str(v).strip() for v in data.values() if isinstance(v, str | int) and str(v).strip())
    if isinstance(data, list):
        return tuple(str(v).strip() for v in data if isinstance(v, str) and v.strip())
    return ()


def _series(data: Any) -> tuple[SeriesTag, ...]:
    out = []
    if isinstance(data, dict):
        for entry in data.values():
            if isinstance(entry, list) and entry and isinstance(entry[0], str) and entry[0].strip():
                number = entry[1] if len(entry) > 1 and isinstance(entry[1], str | int | float) else ""
                out.append(SeriesTag(entry[0].strip(), str(number).strip()))
    return tuple(out)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any, default: int | None = None) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return default


def _flag(value: Any) -> bool:
    return bool(_int(value, 0))


def _language(raw: dict[str, Any]) -> str | None:
    """`lang_code`, or else the code of the `language` id; an id mamd does not know stays foreign."""
    code = raw.get("lang_code")
    if isinstance(code, str) and code.strip():
        return code.strip().upper()
    number = _int(raw.get("language"))
    if number is None:
        return None
    return LANGUAGE_CODES.get(number, f"language {number}")


def parse_row(raw: Any) -> Release | None:
    """One search row; None when it has no id or no title (nothing to decide on)."""
    if not isinstance(raw, dict):
        return None
    row_id = _int(raw.get("id"))
    title = raw.get("title")
    if row_id is None or not isinstance(title, str) or not title.strip():
        return None
    problems: list[str] = []
    mediainfo = _json_field(raw, "mediainfo", problems)
    audio = _dict(mediainfo.get("Audio1")) if isinstance(mediainfo, dict) else {}
    general = _dict(mediainfo.get("General")) if isinstance(mediainfo, dict) else {}
    categories = _json_field(raw, "categories", problems)
    size = parse_size(raw.get("size"))
    if size is None and raw.get("size") is not None:
        problems.append("size")
    isbn: str | None = raw["isbn"] if isinstance(raw.get("isbn"), str) else None
    asin: str | None = None
    if isbn and isbn.upper().startswith("ASIN:"):  # the isbn field may carry an ASIN (`ASIN:…`)
        asin = isbn[5:].strip() or None
        isbn = None
    filetype = raw.get("filetype") if isinstance(raw.get("filetype"), str) else raw.get("filetypes")
    return Release(
        id=row_id,
        title=title.strip(),
        authors=_names(_json_field(raw, "author_info", problems)),
        narrators=_names(_json_field(raw, "narrator_info", problems)),
        series=_series(_json_field(raw, "series_info", problems)),
        filetypes=tuple(t.lower() for t in str(filetype or "").replace(",", " ").split() if t),
        size=size,
        files=_int(raw.get("numfiles")),
        seeders=_int(raw.get("seeders"), 0) or 0,
        leechers=_int(raw.get("leechers"), 0) or 0,
        snatched=_int(raw.get("times_completed"), 0) or 0,
        added=raw.get("added") if isinstance(raw.get("added"), str) else None,
        vip=_flag(raw.get("vip")),
        free=_flag(raw.get("free")),
        fl_vip=_flag(raw.get("fl_vip")),
        personal_freeleech=_flag(raw.get("personal_freeleech")),
        my_snatched=_flag(raw.get("my_snatched")),
        main_cat=_int(raw.get("main_cat")),
        mediatype=_int(raw.get("mediatype")),
        language=_int(raw.get("language")),
        lang_code=_language(raw),
        browseflags=_int(raw.get("browseflags"), 0) or 0,
        categories=tuple(c for c in (_int(x) for x in categories) if c is not None)
        if isinstance(categories, list)
        else (),
        bitrate=parse_bitrate(audio.get("BitRate")),
        duration_s=parse_duration(general.get("Duration")),
        isbn=isbn.strip() if isbn else None,
        asin=asin,
        tags=raw["tags"] if isinstance(raw.get("tags"), str) else "",
        description=raw["description"] if isinstance(raw.get("description"), str) else "",
        file_title=general["Title"].strip() if isinstance(general.get("Title"), str) else None,
        problems=tuple(problems),
    )


def _counter(container: Any, key: str) -> Counter | None:
    value = container.get(key) if isinstance(container, dict) else None
    if not isinstance(value, dict):
        return None
    count = _int(value.get("count"))
    if count is None:
        return None
    return Counter(count=count, limit=_int(value.get("limit")), size=_int(value.get("size")))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return None if math.isnan(value) else float(value)
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if text.lower() in ("inf", "infinity", "∞"):
            return float("inf")
        try:
            number = float(text)
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def parse_account(raw: Any, at: float) -> AccountSnapshot:
    """`jsonLoad.php?snatch_summary`, old and new (2026-09) shapes: counters under `snatch_summary` first."""
    data = raw if isinstance(raw, dict) else {}
    summary = data.get("snatch_summary") if isinstance(data.get("snatch_summary"), dict) else {}
    counters: dict[str, Counter] = {}
    for key in COUNTERS:
        found = _counter(summary, key) or _counter(data, key)
        if found is not None:
            counters[key] = found
    uploaded = _int(data.get("uploaded_bytes"))
    downloaded = _int(data.get("downloaded_bytes"))
    if uploaded is None:
        uploaded = parse_size(data.get("uploaded"))
    if downloaded is None:
        downloaded = parse_size(data.get("downloaded"))
    return AccountSnapshot(
        at=at,
        classname=data.get("classname") if isinstance(data.get("classname"), str) else None,
        ratio=_number(data.get("ratio")),
        uploaded=uploaded,
        downloaded=downloaded,
        seedbonus=_number(data.get("seedbonus")),
        wedges=_int(data.get("wedges")),
        vip_until=data.get("vip_until") if isinstance(data.get("vip_until"), str) else None,
        counters=counters,
    )
