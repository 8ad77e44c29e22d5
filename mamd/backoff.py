"""How long to wait before trying again, and when to stop trying: one policy for the whole daemon.

Every retry in mamd — an HTTP request, MAM's pause after repeated failures, a failed job run,
an import, a grab, a long-running loop that crashed — waits `first_s`, then twice as long after
each further failure in a row, never longer than `max_s`; with `give_up_after` it stops after that
many failures, and the thing is `failed`, with its reason, until something changes. Pure: the
number of failures and the time are inputs, so tests give explicit values and never wait.
"""

from __future__ import annotations

from dataclasses import dataclass

_LONGEST_DOUBLING = 60  # 2**60 times any first wait is past every `max_s`: no float overflow beyond it


@dataclass(frozen=True)
class Backoff:
    first_s: float  # the wait after the first failure …
    max_s: float  # … doubling after each failure in a row, up to this
    give_up_after: int | None = None  # failures in a row after which there is no next try (None: never)
    jitter: float = 0.0  # a wait may be shortened by up to this fraction, so clients do not retry in step

    def __post_init__(self) -> None:
        if self.first_s < 0 or self.max_s < self.first_s:
            raise ValueError(f"a backoff needs 0 <= first_s <= max_s, not {self.first_s} and {self.max_s}")
        if self.give_up_after is not None and self.give_up_after < 1:
            raise ValueError(f"give_up_after must be at least 1, not {self.give_up_after}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter is a fraction from 0 to 1, not {self.jitter}")

    def delay(self, failures: int, spread: float = 1.0) -> float:
        """Seconds to wait after `failures` failures in a row (0 before the first failure).

        `spread`, from 0 to 1, picks the wait within the jitter: 1 is the full wait, 0 the shortest
        (a caller passes `random.random()`, or a stable fraction so a restart waits the same).
        """
        if failures < 1:
            return 0.0
        full = min(self.max_s, self.first_s * 2.0 ** min(failures - 1, _LONGEST_DOUBLING))
        return full * (1.0 - self.jitter * (1.0 - min(1.0, max(0.0, spread))))

    def gives_up(self, failures: int) -> bool:
        """True once `failures` failures in a row are as many as the policy allows."""
        return self.give_up_after is not None and failures >= self.give_up_after

    def next_try(self, failures: int, now: float, spread: float = 1.0) -> float | None:
        """When to try again after `failures` failures in a row, the last at `now`; None to give up."""
        if self.gives_up(failures):
            return None
        return now + self.delay(failures, spread)

    def capped_at(self, max_s: float) -> Backoff:
        """The same policy with waits no longer than `max_s` (a job retried within its interval)."""
        longest = max(0.0, max_s)
        return Backoff(min(self.first_s, longest), longest, self.give_up_after, self.jitter)
