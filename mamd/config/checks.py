"""Checks of single values, named in the model's field metadata.

Each takes the parsed value and returns what is wrong with it, or None.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from string import Formatter
from urllib.parse import urlsplit

from mamd.domain.categories import AUDIOBOOK_CATEGORIES, category_id

LAYOUT_FIELDS = frozenset({"author", "series", "position", "title", "narrator", "asin", "year"})
_LANGUAGE_RE = re.compile(r"^[A-Z]{3}$")
_HOST_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$"
)

_PLACEHOLDER_WORDS = re.compile(
    r"change[-_ ]?me|replace[-_ ]?me|your[-_ ]?(api[-_ ]?)?(key|token|password|secret|session)"
)
_PLACEHOLDER_EXACT = re.compile(r"^(x{3,}|\.{3}|…|todo|fixme|secret|password|<[^>]*>)$", re.IGNORECASE)


def is_placeholder(value: str) -> bool:
    """Values copied from the example that were never filled in (`CHANGE-ME`, `<key>`, `xxx`)."""
    text = value.strip()
    return bool(_PLACEHOLDER_WORDS.search(text.lower()) or _PLACEHOLDER_EXACT.match(text))


def http_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an http:// or https:// address"
    return None


def apprise_url(value: str) -> str | None:
    """An Apprise URL whose scheme Apprise knows and whose form it accepts (this loads Apprise)."""
    from mamd.notify.services import url_problem  # Apprise is loaded only for a file that notifies

    return url_problem(value)


def absolute_path(value: str) -> str | None:
    if not PurePosixPath(value).is_absolute():
        return f"must be an absolute path, got {value!r}"
    return None


def not_blank(value: str) -> str | None:
    return "must not be empty" if not value.strip() else None


def audiobook_category(value: str) -> str | None:
    if category_id(value) is not None:
        return None
    names = ", ".join(sorted(AUDIOBOOK_CATEGORIES.values()))
    return f"{value!r} is not a MAM audiobook category; write one of its ids or names: {names}"


def host_name(value: str) -> str | None:
    if not _HOST_RE.match(value):
        return f"expected a host name such as nas.example.lan (no scheme, port or path), got {value!r}"
    return None


def language_code(value: str) -> str | None:
    return None if _LANGUAGE_RE.match(value) else f"expected a MAM language code like ENG, got {value!r}"


def qbittorrent_tag(value: str) -> str | None:
    return "a tag must be non-empty and hold no comma" if not value.strip() or "," in value else None


def layout_template(value: str) -> str | None:
    try:
        names = {name for _, name, _, _ in Formatter().parse(value) if name is not None}
    except ValueError as exc:
        return f"is not a valid template: {exc}"
    unknown = sorted(n for n in names if n not in LAYOUT_FIELDS)
    if unknown:
        known = ", ".join("{" + n + "}" for n in sorted(LAYOUT_FIELDS))
        return f"unknown placeholder {{{unknown[0]}}}; the template may use {known}"
    if "title" not in names:
        return "must contain {title}"
    if value.startswith("/") or ".." in PurePosixPath(value).parts:
        return "must be a relative path inside the library, without `..`"
    return None
