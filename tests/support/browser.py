"""Debian's Chromium, headless, as a person's browser: a page's DOM after it loaded, and screenshots.

Each run gets a new empty profile folder, and its process group is ended by the PID of the process
this module started (Chromium's renderers and zygote run in that group) before the run returns.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

# what works on a server without a display, a GPU, a D-Bus session or the internet
FLAGS = (
    "--headless",
    "--no-sandbox",  # the suite runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
)
RUN_TIMEOUT_S = 90.0


def chromium() -> str:
    """The Chromium binary (`MAMD_CHROMIUM`, else `chromium` on PATH); skipped outside CI when missing."""
    found = os.environ.get("MAMD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("CI must run the browser tests, and no chromium is installed")
    pytest.skip("needs Debian's chromium: run contrib/dev/system-packages.sh as root, or set MAMD_CHROMIUM")


def _run(args: list[str], folder: Path) -> str:
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=folder))
    command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, led by this PID: the helpers it starts too
    )
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        out, err = "", f"chromium did not finish within {RUN_TIMEOUT_S:.0f} s"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        shutil.rmtree(profile, ignore_errors=True)
    if process.returncode not in (0, -signal.SIGKILL) or (not out and "written to file" not in err):
        raise AssertionError(f"chromium failed ({process.returncode}): {err[-2000:]}")
    return out


def dump_dom(url: str, folder: Path) -> str:
    """The DOM as Chromium built it from `url` (`--dump-dom`), serialised as HTML."""
    return _run(["--dump-dom", url], folder)


def screenshot(url: str, width: int, height: int, path: Path, *, dark: bool = False) -> Path:
    """A PNG of the page in a window of this size; `dark` as a system in dark mode shows it."""
    extra = ["--force-dark-mode"] if dark else []  # prefers-color-scheme: dark, as the OS setting gives
    _run([*extra, f"--window-size={width},{height}", f"--screenshot={path}", url], path.parent)
    return path


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    colours: int  # distinct pixel values
    background: tuple[int, ...]  # the most common pixel value
    background_share: float  # its share of the pixels

    @property
    def background_luma(self) -> float:
        red, green, blue = self.background[:3]
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def read_png(path: Path) -> Png:
    """Decode an 8-bit RGB or RGBA PNG with the standard library (zlib and the five row filters)."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{path} is not a PNG")
    position, chunks, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour_type not in (2, 6) or interlace:
        raise AssertionError(f"unexpected PNG format: depth {depth}, colour type {colour_type}")
    step = 3 if colour_type == 2 else 4
    stride = width * step
    raw = zlib.decompress(b"".join(chunks))
    previous = bytearray(stride)
    counts: dict[bytes, int] = {}
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, step)
        for x in range(0, stride, step * 4):  # every fourth pixel is plenty to tell blank from drawn
            pixel = bytes(line[x : x + step])
            counts[pixel] = counts.get(pixel, 0) + 1
        previous = line
    sampled = sum(counts.values())
    background = max(counts, key=counts.__getitem__)
    return Png(width, height, len(counts), tuple(background), counts[background] / sampled)


def _unfilter(kind: int, line: bytearray, previous: bytearray, step: int) -> None:
    if kind == 0:
        return
    if kind == 2:
        line[:] = bytes((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        return
    for i in range(len(line)):
        left = line[i - step] if i >= step else 0
        up = previous[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            corner = previous[i - step] if i >= step else 0
            estimate = left + up - corner
            pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
            predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[i] = (line[i] + predictor) & 0xFF
        else:
            raise AssertionError(f"unknown PNG row filter {kind}")
