"""The notifications of a running mamd: events and problems in, messages out, each to whom wants it.

Two things flow here and nothing else: every event the audit log stores (`Events.subscribe`: the
message is written in the event's own transaction) and every problem `Health` reports or clears
(`Health.watch`). `routes` says what is sent and to whom, `messages` words it, the outbox holds it
until each target has it. One loop delivers: each target on its own (a slow one never holds up the
others), one message at a time, oldest first; a failure waits as `DELIVERY` says, and a message a
target failed `DELIVERY.give_up_after` times is dropped for it and counted. A target that fails
`FAILING_AFTER` times in a row is a problem in `/status` (sent to the other targets) until it works.

Problems are said once, when they appear (a service that is down only after `SERVICE_HOLD_S`), and
"resolved" once (`problems`); what was said survives a restart, and a problem not seen again within
`problems.CARRY_S` of a restart is taken as resolved. With no target configured, nothing is stored and
Apprise is never loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from typing import TYPE_CHECKING

import aiosqlite

from mamd.backoff import Backoff
from mamd.clock import sleep_or_wake
from mamd.config import Config
from mamd.health import HealthProblem
from mamd.logs import get_logger
from mamd.notify import routes, services, summary
from mamd.notify.messages import (
    Item,
    daily_summary,
    events_message,
    with_link,
)
from mamd.notify.problems import ProblemNotices
from mamd.notify.targets import Target, TestResult, send_tests, service_level, targets_of
from mamd.store import Event, StoreError
from mamd.store.outbox import MAX_MESSAGES, Outbox, OutboxMessage

if TYPE_CHECKING:
    from mamd.context import Context

log = get_logger(__name__)

# a failed try waits 10 s, then twice as long after each failure in a row, never more than 10 minutes;
# a message one target failed 12 times (about an hour and a half of trying) is dropped for it
DELIVERY = Backoff(first_s=10.0, max_s=600.0, give_up_after=12, jitter=0.2)
FAILING_AFTER = 3  # failures in a row that make a target a problem
DAY_S = 86400.0
LONGEST_WAIT_S = 60.0  # the loop looks at least this often (a wall clock that jumped, a held problem)
FLUSH_S = 2.0  # at shutdown, what is gathering is sent for at most this long
DROPPED_PROBLEM = "notify.dropped"
_KEPT_DATA = ("book", "name", "level", "previous", "reasons", "grabs", "counter")


class Notifications:
    def __init__(self, runtime: Context, outbox: Outbox) -> None:
        self._runtime = runtime
        self.outbox = outbox
        self.targets: list[Target] = []
        self._wake = asyncio.Event()
        self._problems = ProblemNotices(runtime, outbox, self._for, self._words)
        self._sending: dict[str, asyncio.Task[None]] = {}
        self._pruned = False  # whether the outbox holds nothing for targets no longer configured
        self.configure(runtime.config)

    # -- configuration --------------------------------------------------------------------

    def configure(self, config: Config) -> bool:
        """Take the targets of `config`; True when they changed. Services are made when first needed."""
        before = {t.key: t for t in self.targets}
        fresh = targets_of(config)
        for target in fresh:
            kept = before.get(target.key)
            if kept is not None:
                target.service = kept.service
        changed = [(t.key, t.events, t.min_level, t.index) for t in fresh] != [
            (t.key, t.events, t.min_level, t.index) for t in self.targets
        ]
        had_none = not self.targets
        self.targets = fresh
        if changed:
            self._pruned = False
            for target in before.values():
                if target.key not in {t.key for t in fresh} or target.index >= len(fresh):
                    self._runtime.health.clear(target.label)
            if had_none and fresh:
                for problem in self._runtime.health.problems():  # news to the first target
                    self._problems.changes[problem.id] = (problem, self._service_state(problem.id))
            self._wake.set()
        return changed

    # -- in: events and problems ----------------------------------------------------------

    def wants(self, kind: str) -> bool:
        """Whether an event of `kind` may be sent at all (cheap: asked for every event stored)."""
        return bool(self.targets) and (kind in routes.EVENTS or kind in routes.EVENTS_BY_DATA)

    async def published(self, db: aiosqlite.Connection, event: Event) -> None:
        """Store the message for an event, in the transaction that stores the event."""
        route = routes.event_route(event.kind, event.data)
        if route is None:
            return
        chosen = [t.key for t in self.targets if t.wants(route.topic, route.level)]
        if not chosen:
            return
        dry_run = self._runtime.config.dry_run
        data = {key: event.data[key] for key in _KEPT_DATA if key in event.data}
        item = Item(event.id, event.kind, event.message, data)
        now = self._runtime.clock.now()
        if route.batch is not None:
            dropped = await self.outbox.gather(
                db,
                batch=route.batch,
                item=item.as_dict(),
                render=lambda items, count: self._words(
                    events_message([Item.from_dict(i) for i in items], count, dry_run)
                ),
                targets=chosen,
                topic=route.topic,
                level=route.level,
                dry_run=dry_run,
                now=now,
                gather_s=route.gather_s,
                fresh=route.opens,
            )
        else:
            title, body = self._words(events_message([item], 1, dry_run))
            dropped = await self.outbox.add(
                "events", route.topic, route.level, title, body, chosen, now, dry_run=dry_run, db=db
            )
        if dropped:
            log.warning("notify.outbox_full", dropped=dropped, limit=MAX_MESSAGES)
        self._wake.set()

    def problem_changed(self, problem_id: str, problem: HealthProblem | None) -> None:
        """A `Health` watcher: looked at in the loop (several changes of one problem count as the last)."""
        if not self.targets:
            return
        self._problems.changes[problem_id] = (problem, self._service_state(problem_id))
        self._wake.set()

    def _service_state(self, problem_id: str) -> str | None:
        service = self._runtime.health.services.get(problem_id.removeprefix("service."))
        return service.state if problem_id.startswith("service.") and service is not None else None

    # -- the loop -------------------------------------------------------------------------

    async def run_forever(self) -> None:
        clock = self._runtime.clock
        try:
            while True:
                wait = 5.0
                try:
                    if self.targets:
                        if not services.loaded():  # on the first target, not at import
                            await asyncio.to_thread(services.load)
                        wait = await self.round()
                    else:
                        wait = LONGEST_WAIT_S
                except StoreError as exc:
                    log.info("notify.waiting", reason=str(exc))  # the database watch says more
                except Exception:
                    # a fault here must cost notifications at most, never the daemon
                    log.exception("notify.round_failed")
                    wait = LONGEST_WAIT_S
                await sleep_or_wake(clock, wait, self._wake)
                self._wake.clear()
        finally:
            for task in list(self._sending.values()):
                task.cancel()
            await asyncio.gather(*self._sending.values(), return_exceptions=True)

    async def round(self) -> float:
        """Look at problems, the daily summary and the targets; start sending where due. Seconds to wait."""
        runtime = self._runtime
        now = runtime.clock.now()
        keys = [t.key for t in self.targets]
        if not self._pruned:
            removed = await self.outbox.keep_targets(keys)
            if removed:
                log.info("notify.targets_removed", dropped_messages=removed)
            self._pruned = True
        records = await self.outbox.targets()
        for target in self.targets:
            record = records.get(target.key)
            self._report(target, record.failures if record else 0, record.last_error if record else None)
        await self._report_drops(now)
        due = [await self._problems.say(now), await self._summary(now)]
        waiting = await self.outbox.waiting()
        for target in self.targets:
            record = records.get(target.key)
            if target.key in self._sending or not waiting.get(target.key):
                continue
            if record is not None and record.next_at is not None and record.next_at > now:
                due.append(record.next_at)
                continue
            task = asyncio.create_task(self._drain(target), name=f"notify-{target.label}")
            self._sending[target.key] = task
            task.add_done_callback(functools.partial(self._sent, target.key))
        ready = await self.outbox.next_ready_at(k for k in keys if k not in self._sending)
        if ready is not None:
            due.append(ready)
        upcoming = [d for d in due if d is not None]
        return max(0.0, min([now + LONGEST_WAIT_S, *upcoming]) - now)

    async def run_once(self) -> float:
        """One round of the loop and the sends it starts, to their end; the seconds the loop would wait."""
        wait = await self.round()
        while self._sending:
            await asyncio.gather(*self._sending.values(), return_exceptions=True)
        return wait

    def _sent(self, key: str, _: object = None) -> None:
        task = self._sending.pop(key, None)
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.error("notify.sender_failed", exc_info=task.exception())
        self._wake.set()

    async def _drain(self, target: Target) -> None:
        """Send what is ready for one target, oldest first, until it is all sent or a try fails."""
        runtime = self._runtime
        while True:
            now = runtime.clock.now()
            message = await self.outbox.next_for(target.key, now)
            if message is None:
                return
            sent = await self._send(target, message)
            now = runtime.clock.now()
            if sent.ok:
                await self.outbox.delivered(message.id, target.key, now)
                log.info(
                    "notify.sent", target=target.label, message=message.id, topic=message.topic, ms=sent.ms
                )
                continue
            records = await self.outbox.targets()
            failures = (records[target.key].failures if target.key in records else 0) + 1
            give_up = DELIVERY.gives_up(message.attempts + 1)
            delay = DELIVERY.delay(failures, random.random())
            await self.outbox.failed(
                message.id, target.key, sent.error or "failed", now, now + delay, give_up=give_up
            )
            log.warning(
                "notify.failed",
                target=target.label,
                message=message.id,
                error=sent.error,
                failures=failures,
                dropped=give_up,
                retry_in_s=round(delay, 1),
            )
            return

    async def _send(self, target: Target, message: OutboxMessage) -> services.Sent:
        redact = self._runtime.redactor.text
        try:
            service = await self._service(target)
        except ValueError as exc:
            return services.Sent(False, str(exc), 0.0)
        level: services.Level = "resolved" if message.kind == "resolved" else service_level(message.level)
        body = with_link(redact(message.body), self._runtime.config.http.public_url)
        return await service.send(redact(message.title), body, level)

    async def _service(self, target: Target) -> services.Service:
        if target.service is None:
            target.service = await asyncio.to_thread(services.Service, target.url)
        return target.service

    # -- problems and targets -------------------------------------------------------------

    def _for(self, topic: str, level: str, exclude: str = "") -> list[str]:
        """The targets that want a message; a target's own problem is not sent to it."""
        return [t.key for t in self.targets if t.wants(topic, level) and t.label != exclude]

    def _report(self, target: Target, failures: int, error: str | None) -> None:
        health = self._runtime.health
        if failures >= FAILING_AFTER:
            health.report(
                target.label,
                "warning",
                f"{target.label} ({target.scheme}://) fails: {error or 'no detail'}; its messages wait in "
                f"the outbox and are tried again at least every {DELIVERY.max_s / 60:.0f} minutes",
            )
        elif health.has(target.label):
            health.clear(target.label)

    async def _report_drops(self, now: float) -> None:
        drops = await self.outbox.drops()
        count = int(drops.get("count") or 0)
        health = self._runtime.health
        if count and await self.outbox.size() == 0 and not self._sending:
            await self.outbox.reset_drops(now)
            health.clear(DROPPED_PROBLEM)
        elif count:
            health.report(
                DROPPED_PROBLEM,
                "warning",
                f"{count} notification(s) were dropped: more waited than the outbox holds ({MAX_MESSAGES}), "
                f"or a target failed {DELIVERY.give_up_after} times on them; the count clears once "
                "everything waiting is sent",
            )

    # -- the daily summary ----------------------------------------------------------------

    async def _summary(self, now: float) -> float | None:
        """Queue the daily summary when it is due; when it is next due (None: nobody wants one)."""
        chosen = self._for("daily_summary", "info")
        if not chosen:
            return None
        store = self._runtime.store
        last = await summary.last_sent(store)
        if last is None:
            await summary.write_sent(store, now)
            return now + DAY_S
        if now < last + DAY_S:
            return last + DAY_S
        facts = await summary.day_facts(self._runtime, last, now)
        title, body = self._words(daily_summary(facts, self._runtime.config.dry_run))
        await self.outbox.add("summary", "daily_summary", "info", title, body, chosen, now)
        await summary.write_sent(store, now)
        log.info("notify.daily_summary", targets=len(chosen))
        return now + DAY_S

    async def summary_next_at(self) -> float | None:
        """When the next daily summary is due; None when no target wants one."""
        if not self._for("daily_summary", "info"):
            return None
        last = await summary.last_sent(self._runtime.store)
        return last + DAY_S if last is not None else None

    def problems(self) -> list[HealthProblem]:
        """The problems notifying has now: a target that fails, messages dropped."""
        return [p for p in self._runtime.health.problems() if p.id.startswith("notify")]

    # -- a test, and shutdown -------------------------------------------------------------

    async def test(self) -> list[TestResult]:
        """Send one test message to every target now, past the outbox; each result. A target that takes
        it is tried again at once for what waits for it."""
        config = self._runtime.config
        results = await send_tests(self.targets, config, self._runtime.redactor.text)
        for target, result in zip(self.targets, results, strict=True):
            log.info("notify.test", target=target.label, ok=result.ok, error=result.error, ms=result.ms)
            if result.ok:
                with contextlib.suppress(StoreError):
                    await self.outbox.retry_now(target.key)
        self._wake.set()
        return results

    async def flush(self, within_s: float = FLUSH_S) -> None:
        """At shutdown: what is still gathering is sent now, for at most `within_s`; the rest waits in the
        outbox for the next start."""
        if not self.targets or not services.loaded():
            return
        now = self._runtime.clock.now()
        try:
            async with self._runtime.store.transaction() as db:
                await db.execute("UPDATE notify_messages SET ready_at = ? WHERE ready_at > ?", (now, now))
            records = await self.outbox.targets()
            healthy = [t for t in self.targets if not (records.get(t.key) and records[t.key].failures)]
            async with asyncio.timeout(within_s):
                await asyncio.gather(*(self._drain(t) for t in healthy))
        except (TimeoutError, StoreError) as exc:
            log.info("notify.flush_incomplete", reason=str(exc) or "time is up")

    # -- helpers --------------------------------------------------------------------------

    def _words(self, message: tuple[str, str]) -> tuple[str, str]:
        redact = self._runtime.redactor.text
        return redact(message[0]), redact(message[1])
