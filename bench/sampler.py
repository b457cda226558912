"""Watching a run while it happens: the gateway's peak memory, PostgreSQL sessions waiting
on locks, and the CPU the bench database's backends spend."""

import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass, field

import psycopg

from bench import procstat

LOCK_SQL = """
SELECT pid, wait_event_type = 'Lock' AS waiting
FROM pg_stat_activity
WHERE datname = %s AND pid <> pg_backend_pid()
"""


@dataclass
class Samples:
    peak_rss: int = 0
    lock_waiters: list[int] = field(default_factory=list)
    backend_cpu: dict[int, list[float]] = field(default_factory=dict)  # pid → [first, last]

    @property
    def waiters_mean(self) -> float:
        return statistics.fmean(self.lock_waiters) if self.lock_waiters else 0.0

    @property
    def waiters_max(self) -> int:
        return max(self.lock_waiters, default=0)

    @property
    def postgres_cpu(self) -> float:
        """CPU the bench database's backends spent while watched (backends that came and
        went between two samples are missed; the pool keeps most alive)."""
        return sum(last - first for first, last in self.backend_cpu.values())


class Sampler:
    """Samples every ``interval`` seconds until stopped; use ``async with``."""

    def __init__(self, tree: procstat.Tree | None, database_url: str | None, database: str = ""):
        self.tree = tree
        self.database_url = database_url
        self.database = database
        self.samples = Samples()
        self.interval = 0.1
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    async def __aenter__(self) -> Samples:
        self._task = asyncio.create_task(self._run())
        return self.samples

    async def __aexit__(self, *exc) -> None:
        self._stop.set()
        if self._task:
            await self._task

    async def _run(self) -> None:
        connection = None
        if self.database_url:
            connection = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
        try:
            while not self._stop.is_set():
                began = time.perf_counter()
                if self.tree is not None:
                    rss = await asyncio.to_thread(self.tree.rss)
                    self.samples.peak_rss = max(self.samples.peak_rss, rss)
                if connection is not None:
                    rows = await (await connection.execute(LOCK_SQL, (self.database,))).fetchall()
                    self.samples.lock_waiters.append(sum(1 for _, waiting in rows if waiting))
                    for pid, _ in rows:
                        cpu = procstat.cpu_seconds([pid])
                        seen = self.samples.backend_cpu.setdefault(pid, [cpu, cpu])
                        seen[1] = cpu
                pause = self.interval - (time.perf_counter() - began)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), max(pause, 0.01))
        finally:
            if connection is not None:
                await connection.close()


async def settle(tree: procstat.Tree, *, quiet_cpu: float = 0.03, limit: float = 90) -> float:
    """Wait until the server is idle (under ``quiet_cpu`` of a core over half a second),
    at most ``limit`` seconds; returns how long it took. A gateway still finishing work
    its clients gave up on must not bill that work to the next measurement."""
    began = time.perf_counter()
    while time.perf_counter() - began < limit:
        before = tree.cpu()
        await asyncio.sleep(0.5)
        if tree.cpu() - before < quiet_cpu * 0.5:
            break
    return time.perf_counter() - began
