"""What can go wrong upstream, in four kinds every client shares.

- `Unavailable`: down, timing out, answering 5xx or garbage — try again later.
- `Unauthorized`: the credential is refused — a person must act; retrying will not help.
- `Throttled`: asked to slow down (429) — wait at least `retry_after`.
- `Rejected`: this request was refused (another 4xx) — the service is fine, the request is not.
"""

from __future__ import annotations

from collections.abc import Mapping


class UpstreamError(Exception):
    sent = True  # whether the request left mamd at all (False: refused before sending)
    headers: Mapping[str, str] | None = None  # the answer's headers, when there was an answer

    def __init__(self, service: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.message = message
        self.status = status

    def unsent(self) -> UpstreamError:
        """Mark this error as raised before anything was sent."""
        self.sent = False
        return self


class Unavailable(UpstreamError):
    pass


class Unauthorized(UpstreamError):
    pass


class Throttled(UpstreamError):
    def __init__(
        self, service: str, message: str, retry_after: float | None, status: int | None = 429
    ) -> None:
        super().__init__(service, message, status)
        self.retry_after = retry_after


class Rejected(UpstreamError):
    pass


class NotFound(Rejected):
    pass
