"""Which `Host` a request may name: mamd's own names and addresses, and `http.allowed_hosts`.

A web page in the user's browser can reach mamd through DNS rebinding: the page's own name
is made to resolve to mamd's address, so the browser sends mamd requests (and reads the
answers) with `Host: attacker.example`. Checking the name the request was sent to stops it.
An address is never a rebinding (the browser names the page's host, not an address), so a
request to the address it arrived on, or to a loopback address, always passes.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def host_name(header: str) -> str:
    """The host part of a `Host` header, lower case, without port, brackets or final dot."""
    text = header.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[1:end] if end > 0 else text
    name, colon, port = text.rpartition(":")
    if colon and port.isascii() and port.isdigit() and ":" not in name:
        text = name
    return text.rstrip(".")


def _address(text: str) -> Any:
    try:
        address: Any = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address


def machine_names() -> frozenset[str]:
    """This machine's host name, with and without its domain, and as mDNS announces it (`nas.local`)."""
    name = socket.gethostname().lower().rstrip(".")
    short = name.split(".", 1)[0]
    return frozenset(n for n in (name, short, f"{short}.local", "localhost") if n)


@dataclass(frozen=True)
class HostCheck:
    names: frozenset[str]

    def allows(self, header: str | None, local_address: str | None, bind: str, extra: Iterable[str]) -> bool:
        """True when a request with this `Host` header, arriving on `local_address`, is for mamd."""
        if not header:
            return True  # HTTP/1.0 without Host: nothing names another site
        host = host_name(header)
        address = _address(host)
        if address is not None:
            if address.is_loopback:
                return True
            return address in (_address(local_address or ""), _address(bind))
        allowed = {host_name(n) for n in extra} | {host_name(bind)} | self.names
        return host in allowed
