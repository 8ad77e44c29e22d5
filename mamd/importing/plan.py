"""Which file goes where: the book's folder and each torrent file's place inside it (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from mamd.domain.book import BookMeta
from mamd.domain.naming import book_folder, file_path, unique_paths


@dataclass(frozen=True)
class Placement:
    source: str  # the file's name as qBittorrent reports it, relative to the torrent's save path
    target: PurePosixPath  # where it goes inside the book folder


@dataclass(frozen=True)
class ImportPlan:
    folder: PurePosixPath  # the book folder, relative to the library
    files: tuple[Placement, ...]


def plan_import(layout: str, book: BookMeta, names: Sequence[str]) -> ImportPlan:
    """The torrent's own layout is kept inside the book folder, less its top folder."""
    split = [[part for part in name.split("/") if part] for name in names]
    # a multi-file torrent keeps its files under one top folder: the book folder takes its place
    tops = {parts[0] for parts in split if len(parts) > 1}
    drop_top = len(tops) == 1 and all(len(parts) > 1 for parts in split)
    inside = [
        file_path(parts[1:] if drop_top else parts[-1:] if len(parts) == 1 else parts) for parts in split
    ]
    targets = unique_paths(inside)
    return ImportPlan(
        folder=book_folder(layout, book),
        files=tuple(Placement(name, target) for name, target in zip(names, targets, strict=True)),
    )
