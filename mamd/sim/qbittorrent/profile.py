"""What goes into a qbittorrent-nox profile's `qBittorrent.conf`: the WebUI password hash and QSettings
INI text as Qt reads it back."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping

PBKDF2_ITERATIONS = 100_000  # what qBittorrent uses for `WebUI\Password_PBKDF2`
PBKDF2_SALT_BYTES = 16
PBKDF2_KEY_BYTES = 64


def pbkdf2_password(password: str, salt: bytes | None = None) -> str:
    """The `WebUI\\Password_PBKDF2` value for `password`: `@ByteArray(<salt b64>:<key b64>)`.

    The key is PBKDF2-HMAC-SHA512 over 100,000 iterations, 64 bytes long; the salt is 16 random bytes
    unless one is given.
    """
    if salt is None:
        salt = secrets.token_bytes(PBKDF2_SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS, PBKDF2_KEY_BYTES)
    return f"@ByteArray({base64.b64encode(salt).decode()}:{base64.b64encode(key).decode()})"


def qt_ini_string(text: str) -> str:
    """`text` as a quoted QSettings INI value that Qt 5 reads back unchanged.

    Qt 5 reads INI files as Latin-1 and decodes `\\xHHHH` escapes (UTF-16 code units) with no length
    limit, so a hex digit right after such an escape must be escaped too; this is what Qt itself writes
    (observed with 4.5.2: `d\\xe9 l` for "dé l", `\\x20ac\\x32` for "€2").
    """
    out = ['"']
    after_hex_escape = False
    units = text.encode("utf-16-be")
    for index in range(0, len(units), 2):
        unit = int.from_bytes(units[index : index + 2], "big")
        char = chr(unit) if 0x20 <= unit < 0x7F else ""
        if char in ("\\", '"'):
            out.append("\\" + char)
            after_hex_escape = False
        elif char and not (after_hex_escape and char in "0123456789abcdefABCDEF"):
            out.append(char)
            after_hex_escape = False
        else:
            out.append(f"\\x{unit:x}")
            after_hex_escape = True
    out.append('"')
    return "".join(out)


def ini(sections: Mapping[str, Mapping[str, str | int | bool]]) -> str:
    """`sections` as a QSettings INI file, every text value quoted as Qt writes it."""
    lines: list[str] = []
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        for key, value in keys.items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, int):
                text = str(value)
            else:
                text = qt_ini_string(value)
            lines.append(f"{key}={text}")
        lines.append("")
    return "\n".join(lines)
