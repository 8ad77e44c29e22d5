"""When each job last ran and how it ended; the schedule is computed from these rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mamd.store.db import Store


@dataclass(frozen=True)
class JobRun:
    id: int
    job: str
    trigger: str
    started_at: float
    finished_at: float | None
    result: str | None
    error: str | None
    summary: dict[str, Any]


class JobRuns:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def start(self, job: str, trigger: str, now: float) -> int:
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO job_runs (job, trigger, started_at) VALUES (?, ?, ?)", (job, trigger, now)
            )
            return int(cursor.lastrowid or 0)

    async def finish(
        self,
        run_id: int,
        result: str,
        now: float,
        error: str | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE job_runs SET finished_at = ?, result = ?, error = ?, summary = ? WHERE id = ?",
                (now, result, error, json.dumps(summary or {}, default=str), run_id),
            )

    async def mark_interrupted(self, now: float) -> int:
        """Runs that never finished (the daemon died under them) are recorded as interrupted."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE job_runs SET finished_at = ?, result = 'interrupted', "
                "error = 'mamd stopped before the run finished' WHERE finished_at IS NULL",
                (now,),
            )
            return cursor.rowcount

    async def latest(self) -> dict[str, JobRun]:
        """The newest run of every job."""
        rows = await self._store.fetchall(
            "SELECT * FROM job_runs WHERE id IN (SELECT max(id) FROM job_runs GROUP BY job)"
        )
        return {row["job"]: _run(row) for row in rows}

    async def failure_streaks(self) -> dict[str, int]:
        """How many runs in a row have failed, per job, counting back from the newest."""
        rows = await self._store.fetchall(
            """
            SELECT job, result FROM (
                SELECT job, result, row_number() OVER (PARTITION BY job ORDER BY id DESC) AS n
                FROM job_runs WHERE result IN ('ok', 'error')
            ) WHERE n <= 16 ORDER BY job, n
            """
        )
        streaks: dict[str, int] = {}
        broken: set[str] = set()
        for row in rows:
            job = row["job"]
            streaks.setdefault(job, 0)
            if job in broken or row["result"] != "error":
                broken.add(job)
            else:
                streaks[job] += 1
        return streaks

    async def counts(self) -> dict[tuple[str, str], int]:
        rows = await self._store.fetchall(
            "SELECT job, result, count(*) AS n FROM job_runs WHERE result IS NOT NULL GROUP BY job, result"
        )
        return {(row["job"], row["result"]): int(row["n"]) for row in rows}

    async def prune(self, before: float, keep_per_job: int) -> int:
        """Forget runs older than `before`, always keeping each job's newest `keep_per_job`."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                """
                DELETE FROM job_runs WHERE started_at < ? AND id NOT IN (
                    SELECT id FROM (
                        SELECT id, row_number() OVER (PARTITION BY job ORDER BY id DESC) AS n FROM job_runs
                    ) WHERE n <= ?
                )
                """,
                (before, keep_per_job),
            )
            return cursor.rowcount


def _run(row: Any) -> JobRun:
    return JobRun(
        id=row["id"],
        job=row["job"],
        trigger=row["trigger"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        result=row["result"],
        error=row["error"],
        summary=json.loads(row["summary"]),
    )
