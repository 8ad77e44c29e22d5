"""Putting a book into the library on real filesystems: links, atomicity, refusals, nothing half-made."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mamd.domain.book import BookMeta, abs_metadata
from mamd.importing.linker import ImportRefused, link_book
from mamd.importing.plan import plan_import

LAYOUT = "{author}/{series}/{position} - {title}"
BOOK = BookMeta("The Hero of Ages", ("Brandon Sanderson",), ("Michael Kramer",), "Mistborn", "3")
HASH = "ab" * 20


def payload(save: Path, files: dict[str, bytes]) -> list[str]:
    for name, data in files.items():
        path = save / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return list(files)


def link(save: Path, library: Path, names: list[str], **options: object) -> object:
    settings: dict[str, object] = {
        "save_path": save,
        "library": library,
        "method": "hardlink",
        "metadata": abs_metadata(BOOK),
        "marker": HASH,
    }
    settings.update(options)
    return link_book(plan_import(LAYOUT, BOOK, names), **settings)  # type: ignore[arg-type]


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    save, library = tmp_path / "torrents", tmp_path / "library"
    save.mkdir()
    library.mkdir()
    return save, library


def test_files_are_hardlinked_into_the_book_folder_with_metadata(places: tuple[Path, Path]) -> None:
    save, library = places
    names = payload(save, {"Hero/01.mp3": b"one", "Hero/02.mp3": b"two", "Hero/cover.jpg": b"jpg"})
    before = {n: ((save / n).stat().st_mtime_ns, (save / n).read_bytes()) for n in names}
    result = link(save, library, names)
    folder = library / "Brandon Sanderson/Mistborn/3 - The Hero of Ages"
    assert result.outcome == "linked"  # type: ignore[attr-defined]
    assert sorted(p.name for p in folder.iterdir()) == ["01.mp3", "02.mp3", "cover.jpg", "metadata.json"]
    for name in names:
        linked = folder / Path(name).name
        assert linked.stat().st_ino == (save / name).stat().st_ino
        assert ((save / name).stat().st_mtime_ns, (save / name).read_bytes()) == before[name]
    assert json.loads((folder / "metadata.json").read_text())["series"] == ["Mistborn #3"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".mamd-import-")]


def test_an_identical_earlier_import_counts_as_done(places: tuple[Path, Path]) -> None:
    save, library = places
    names = payload(save, {"Hero.m4b": b"book"})
    link(save, library, names)
    assert link(save, library, names).outcome == "already"  # type: ignore[attr-defined]


def test_another_book_in_the_destination_is_never_overwritten(places: tuple[Path, Path]) -> None:
    save, library = places
    names = payload(save, {"Hero.m4b": b"book"})
    taken = library / "Brandon Sanderson/Mistborn/3 - The Hero of Ages"
    taken.mkdir(parents=True)
    (taken / "Hero.m4b").write_bytes(b"another edition")
    with pytest.raises(ImportRefused, match="already exists and holds other files") as refused:
        link(save, library, names)
    assert refused.value.retry is False
    assert (taken / "Hero.m4b").read_bytes() == b"another edition"
    assert sorted(p.name for p in taken.iterdir()) == ["Hero.m4b"]


def test_a_missing_library_is_refused_for_now_and_nothing_is_made(places: tuple[Path, Path]) -> None:
    save, library = places
    names = payload(save, {"Hero.m4b": b"book"})
    shutil.rmtree(library)
    with pytest.raises(ImportRefused, match="does not exist or is not mounted") as refused:
        link(save, library, names)
    assert refused.value.retry is True
    assert not library.exists()


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    if os.geteuid() == 0:
        if subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode != 0:
            pytest.skip("cannot bind-mount as root here")
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True)
            yield
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


def test_a_read_only_library_is_refused_clearly_with_nothing_half_made(places: tuple[Path, Path]) -> None:
    save, library = places
    names = payload(save, {"Hero.m4b": b"book"})
    with read_only(library), pytest.raises(ImportRefused, match="cannot write in the library") as refused:
        link(save, library, names)
    assert refused.value.retry is True
    assert list(library.iterdir()) == []


def test_a_link_across_filesystems_says_what_to_change(tmp_path: Path) -> None:
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs a second filesystem (/dev/shm)")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        save = Path(other)
        library = tmp_path / "library"
        library.mkdir()
        names = payload(save, {"Hero.m4b": b"book"})
        with pytest.raises(ImportRefused, match=r"import\.method: copy") as refused:
            link(save, library, names)
        assert "EXDEV" in str(refused.value)
        assert "different filesystems" in str(refused.value)
        assert refused.value.retry is True  # it waits in the inbox until the setup is fixed
        assert list(library.iterdir()) == []  # the author folder made for it was removed again
        result = link(save, library, names, method="copy")
        copied = library / "Brandon Sanderson/Mistborn/3 - The Hero of Ages/Hero.m4b"
        assert result.outcome == "linked"  # type: ignore[attr-defined]
        assert copied.read_bytes() == b"book"
        assert link(save, library, names, method="copy").outcome == "already"  # type: ignore[attr-defined]


def test_a_file_the_torrent_calls_metadata_json_is_linked_and_never_written(
    places: tuple[Path, Path],
) -> None:
    save, library = places
    names = payload(save, {"Hero/metadata.json": b'{"theirs": true}', "Hero/01.mp3": b"one"})
    link(save, library, names)
    folder = library / "Brandon Sanderson/Mistborn/3 - The Hero of Ages"
    assert (folder / "metadata.json").read_bytes() == b'{"theirs": true}'
    assert (save / "Hero/metadata.json").read_bytes() == b'{"theirs": true}'


def test_a_temporary_folder_left_by_a_crash_is_cleared_and_the_import_done(places: tuple[Path, Path]) -> None:
    save, library = places
    names = payload(save, {"Hero.m4b": b"book"})
    stale = library / "Brandon Sanderson/Mistborn" / f".mamd-import-{HASH}"
    stale.mkdir(parents=True)
    (stale / "half.m4b").write_bytes(b"half")
    assert link(save, library, names).outcome == "linked"  # type: ignore[attr-defined]
    assert not stale.exists()


def test_a_source_outside_the_save_path_is_refused(places: tuple[Path, Path]) -> None:
    save, library = places
    (save.parent / "secret").write_bytes(b"not a book")
    (save / "Hero.m4b").symlink_to(save.parent / "secret")
    with pytest.raises(ImportRefused, match="is a symbolic link") as refused:
        link(save, library, ["Hero.m4b"])
    assert refused.value.retry is False
    assert list(library.iterdir()) == []


@pytest.mark.parametrize("name", ["../secret", "/etc/passwd", "Hero/../../secret"])
def test_a_file_name_that_climbs_out_of_the_save_path_is_refused(
    places: tuple[Path, Path], name: str
) -> None:
    save, library = places
    (save.parent / "secret").write_bytes(b"not a book")
    with pytest.raises(ImportRefused, match="outside the torrent's folder") as refused:
        link(save, library, [name])
    assert refused.value.retry is False
    assert list(library.iterdir()) == []


def test_a_payload_link_to_another_torrents_file_in_the_save_path_is_refused_naming_it(
    places: tuple[Path, Path],
) -> None:
    """Both files are under the save path, but only one belongs to this torrent."""
    save, library = places
    payload(save, {"Other Book/other.m4b": b"another torrent's book", "Hero/01.mp3": b"one"})
    (save / "Hero/02.mp3").symlink_to(save / "Other Book/other.m4b")
    with pytest.raises(ImportRefused) as refused:
        link(save, library, ["Hero/01.mp3", "Hero/02.mp3"])
    message = str(refused.value)
    assert f"{save / 'Hero/02.mp3'} is a symbolic link" in message
    assert "other.m4b" in message
    assert refused.value.retry is False
    assert list(library.iterdir()) == []
    assert (save / "Other Book/other.m4b").stat().st_nlink == 1  # never linked anywhere


def test_a_linked_folder_in_the_payload_is_refused_naming_it(
    places: tuple[Path, Path], tmp_path: Path
) -> None:
    save, library = places
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "01.mp3").write_bytes(b"not this torrent's")
    (save / "Hero").mkdir()
    (save / "Hero/disc1").symlink_to(outside)
    with pytest.raises(ImportRefused, match=r"Hero/disc1 is a symbolic link") as refused:
        link(save, library, ["Hero/disc1/01.mp3"])
    assert refused.value.retry is False
    assert (outside / "01.mp3").stat().st_nlink == 1


def test_a_special_file_in_the_payload_is_refused(places: tuple[Path, Path]) -> None:
    save, library = places
    (save / "Hero").mkdir()
    os.mkfifo(save / "Hero/01.mp3")
    with pytest.raises(ImportRefused, match="is not a regular file") as refused:
        link(save, library, ["Hero/01.mp3"])
    assert refused.value.retry is False
    assert list(library.iterdir()) == []


def test_a_library_subfolder_that_links_outside_is_refused(places: tuple[Path, Path], tmp_path: Path) -> None:
    save, library = places
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (library / "Brandon Sanderson").symlink_to(elsewhere)
    names = payload(save, {"Hero.m4b": b"book"})
    with pytest.raises(ImportRefused, match="leads outside the library"):
        link(save, library, names)
    assert list(elsewhere.iterdir()) == []


def test_files_qbittorrent_reports_that_mamd_cannot_see_wait_for_later(places: tuple[Path, Path]) -> None:
    save, library = places
    with pytest.raises(ImportRefused, match="must see qBittorrent's files") as refused:
        link(save, library, ["Hero.m4b"])
    assert refused.value.retry is True
