"""The status page's sign-in cookie: an expiry signed with the API key, never the key itself.

The browser holds `EXPIRES.SIGNATURE`, where the signature is an HMAC-SHA256 of the expiry keyed
by the API key. Nothing else is stored: the cookie proves that its holder knew the key until it
expires, a changed key ends every session at once (the signature no longer matches), and a
stolen cookie reveals nothing of the key.
"""

from __future__ import annotations

import hashlib
import hmac

COOKIE = "mamd_page"
LIFETIME_S = 7 * 86400
_PURPOSE = b"mamd status page session until "  # binds the signature to this use of the key


def _signature(key: str, expires: int) -> str:
    message = _PURPOSE + str(expires).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def issue(key: str, now: float, lifetime_s: int = LIFETIME_S) -> str:
    """A cookie value valid for `lifetime_s` seconds from `now`."""
    expires = int(now) + lifetime_s
    return f"{expires}.{_signature(key, expires)}"


def valid(value: str | None, key: str, now: float, lifetime_s: int = LIFETIME_S) -> bool:
    """True when `value` was issued with this key and has not expired."""
    if not value:
        return False
    expires_text, dot, signature = value.partition(".")
    if not dot or not expires_text.isascii() or not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    if not now < expires <= now + lifetime_s:  # an expiry further away than any issued is not ours
        return False
    expected = _signature(key, expires).encode()
    return hmac.compare_digest(signature.encode("utf-8", "surrogateescape"), expected)
