"""Hot reload: a file save, `SIGHUP` or `systemctl reload` re-reads the YAML and swaps it whole.

The file's folder is watched, not the file: editors and `mv` replace the inode on save.
inotify is used where it exists (it costs nothing while idle), watchfiles elsewhere.
Requests that arrive while a reload runs collapse into one more reload, so a storm of
signals costs at most two. An invalid file changes nothing but `config.last_error`, and so
does anything else that goes wrong: a reload never stops the daemon, and a read that hangs
is abandoned after `LOAD_TIMEOUT_S`, so it can hold up neither later reloads nor shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import watchfiles

from mamd import detached
from mamd.config import Config, ConfigError, Problem, diff, iter_secrets, keep_restart_keys, load_config
from mamd.inotify import FolderWatch
from mamd.logs import get_logger
from mamd.runtime import Runtime
from mamd.store import StoreError

log = get_logger(__name__)

QUIET_S = 0.03  # a burst of file events ends after this much quiet …
LONGEST_S = 0.4  # … or after this long, whichever comes first
LOAD_TIMEOUT_S = 10.0  # reading the file and its secret files; each read alone gives up after 3 s


async def load_detached(path: Path) -> Config:
    """`load_config` in a thread nobody waits for: a hung read costs `LOAD_TIMEOUT_S`, never the exit.

    Raises only `ConfigError`.
    """
    try:
        return await detached.run(lambda: load_config(path), "config-load", LOAD_TIMEOUT_S)
    except detached.Abandoned as exc:
        message = f"reading the configuration did not finish within {exc.within_s:g} s and was abandoned"
        raise ConfigError([Problem(str(path), None, "", message)]) from None


class Reloader:
    def __init__(self, runtime: Runtime, apply: Callable[[Config, Config], None]) -> None:
        self._runtime = runtime
        self._apply = apply
        self._requested = asyncio.Event()
        self._reasons: set[str] = set()
        self.stop_event = asyncio.Event()

    def request(self, reason: str) -> None:
        self._reasons.add(reason)
        self._requested.set()

    async def run(self) -> None:
        while True:
            await self._requested.wait()
            self._requested.clear()
            reasons, self._reasons = sorted(self._reasons), set()
            await self.reload(",".join(reasons))

    async def watch(self, prefer_inotify: bool = True) -> None:
        """Request a reload whenever the configuration file (or the file its link points to) changes."""
        path = self._runtime.config_state.path
        names = {path.name, path.resolve().name}
        folders = sorted({path.parent, path.resolve().parent})
        if prefer_inotify:
            try:
                watch = FolderWatch(folders, names)
            except OSError as exc:
                log.info("config.watch_fallback", reason=str(exc), using="watchfiles")
            else:
                try:
                    await self._watch_inotify(watch, names)
                finally:
                    watch.close()
                return
        await self._watch_polling(folders, names)

    async def _watch_inotify(self, watch: FolderWatch, names: set[str]) -> None:
        watch.start()
        log.debug("config.watching", folders=watch.watching, using="inotify")
        while True:
            changed = await watch.changes(QUIET_S, LONGEST_S)
            if "" in changed or changed & names:
                self.request("file")

    async def _watch_polling(self, folders: list[Path], names: set[str]) -> None:
        def relevant(change: watchfiles.Change, changed: str) -> bool:
            return Path(changed).name in names

        log.debug("config.watching", folders=[str(f) for f in folders], using="watchfiles")
        async for _ in watchfiles.awatch(
            *folders,
            watch_filter=relevant,
            debounce=int(LONGEST_S * 1000),
            step=int(QUIET_S * 1000),
            recursive=False,
            stop_event=self.stop_event,
        ):
            self.request("file")

    async def reload(self, reason: str) -> bool:
        """Load the file and apply it; True when the running configuration is now the file's.

        Whatever goes wrong, the running configuration stays and `config.last_error` says why.
        """
        runtime = self._runtime
        runtime.notifier.reloading()
        try:
            return await self._reload(reason)
        except Exception as exc:
            log.exception("config.reload_failed", reason=reason)
            message = f"cannot be applied: {type(exc).__name__}: {exc}"
            await self._reject(
                ConfigError([Problem(str(runtime.config_state.path), None, "", message)]), reason
            )
            return False
        finally:
            runtime.notifier.ready(runtime.status_line())

    async def _reload(self, reason: str) -> bool:
        runtime = self._runtime
        state = runtime.config_state
        try:
            loaded = await load_detached(state.path)
        except ConfigError as error:
            await self._reject(error, reason)
            return False
        running = runtime.config
        effective, pending = keep_restart_keys(running, loaded)
        changes = diff(running, effective)
        state.last_error, state.last_error_at, state.problems = None, None, []
        state.pending_restart = pending
        runtime.health.clear("config")
        runtime.import_probe.reloaded(running, effective)  # even unchanged: a fix may lie outside the file
        if not changes:
            log.info("config.unchanged", reason=reason, generation=state.generation, restart_pending=pending)
            return True
        runtime.config = effective
        runtime.redactor.update(iter_secrets(effective))
        try:
            self._apply(running, effective)
        except Exception:
            # half applied is worse than not at all: put the running configuration back whole
            runtime.config = running
            runtime.redactor.update(iter_secrets(running))
            with contextlib.suppress(Exception):
                self._apply(effective, running)
            raise
        state.generation += 1
        state.loaded_at = runtime.clock.now()
        for change in changes:
            log.info("config.changed", key=change.key, old=change.old, new=change.new)
        if pending:
            log.warning("config.restart_required", keys=pending)
        log.info("config.reloaded", reason=reason, generation=state.generation, changes=len(changes))
        await self._event(
            "config.reloaded",
            f"configuration generation {state.generation}: {len(changes)} change(s)",
            changes=[c.key for c in changes],
            restart_required=pending,
        )
        return True

    async def _reject(self, error: ConfigError, reason: str) -> None:
        runtime = self._runtime
        runtime.config_state.rejected(error, runtime.clock.now())
        runtime.health.report("config", "warning", f"configuration edit rejected: {error.summary()}")
        log.error(
            "config.rejected",
            reason=reason,
            generation=runtime.config_state.generation,
            problems=[str(p) for p in error.problems],
        )
        await self._event(
            "config.rejected",
            f"edit rejected, generation {runtime.config_state.generation} kept: {error.summary()}",
            problems=[p.as_dict() for p in error.problems],
        )

    async def _event(self, kind: str, message: str, **data: object) -> None:
        try:
            await self._runtime.events.add(self._runtime.clock.now(), kind, message, "config", **data)
        except StoreError as exc:
            log.error("event.not_saved", kind=kind, reason=str(exc))
