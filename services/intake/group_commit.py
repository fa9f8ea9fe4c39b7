"""One thread does all ledger work for the event loop, and does its claims and confirmations in groups.

Requests put their claims and their confirmations on a queue (those of one event-loop turn together, so
the thread is woken once per turn) and await an asyncio future. The worker takes everything that
queued up while it was busy (no added wait when idle): all confirmations go into one transaction, all
claims into another (``EventLedger.claim_group``: each request decided in order as if it came alone, so a
refused request keeps nothing and gets its own 403 or 409 while its neighbours get 202) -- one commit each,
the cost SQLite serialises on -- and the waiting requests are woken with a single ``call_soon_threadsafe``.
A request's rows are committed before its future completes, so "202" still means "recorded". If a group
fails as a whole, each request's rows are retried in a transaction of their own, so one bad request (or
another intake instance's concurrent claim) cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.intake.store import Claim, ClaimResult, EventLedger, LedgerRow

logger = logging.getLogger(__name__)

MAX_GROUP_ROWS = 5_000  # a group stops taking more once it has this many rows (one turn's jobs stay together)


@dataclass(slots=True)
class _Job:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    call: Callable[[], Any] | None = None  # a release: run on its own
    claim: Claim | None = None
    rows: Sequence[LedgerRow] = ()
    writes: bool = False
    outcome: Any = field(default=None)
    error: BaseException | None = None


class LedgerWorker:
    def __init__(self, ledger: EventLedger, *, max_group_rows: int = MAX_GROUP_ROWS) -> None:
        self._ledger = ledger
        self._max_rows = max_group_rows
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._pending: dict[asyncio.AbstractEventLoop, list[_Job]] = {}  # per loop: jobs not yet queued
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def claim(self, sender: str, rows: Sequence[LedgerRow], subjects: Sequence[str],
                    now: dt.datetime) -> ClaimResult:
        return await self._submit(claim=Claim(sender, rows, subjects, now))

    async def release(self, sender: str, rows: Sequence[LedgerRow]) -> None:
        if rows:
            await self._submit(call=functools.partial(self._ledger.release, sender, rows))

    async def record(self, rows: Sequence[LedgerRow]) -> None:
        if rows:
            await self._submit(rows=rows, writes=True)

    async def _submit(self, **work: Any) -> Any:
        self._ensure_started()
        loop = asyncio.get_running_loop()
        job = _Job(loop, loop.create_future(), **work)
        # The jobs of one turn of the event loop go on the queue together, at its end: waking the worker
        # thread costs the event loop more than the rest of a submission, so it is woken once per turn.
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._flush, loop)
        pending.append(job)
        return await job.future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs = self._pending.pop(loop, None)
        if jobs:
            self._queue.put(jobs)

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="intake-ledger", daemon=True)
                thread.start()
                self._thread = thread

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            # Jobs submitted in this turn of the event loop and not flushed yet go ahead of the stop signal.
            for jobs in list(self._pending.values()):
                self._queue.put(jobs)
            self._pending.clear()
            self._queue.put(None)
            thread.join(10)

    # ---- worker thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = first
            rows = sum(_size(job) for job in first)
            stop = False
            while rows < self._max_rows:
                try:
                    jobs = self._queue.get_nowait()
                except queue.Empty:
                    break
                if jobs is None:
                    stop = True
                    break
                group.extend(jobs)
                rows += sum(_size(job) for job in jobs)
            self._work(group)
            if stop:
                return

    def _work(self, group: list[_Job]) -> None:
        writes = [job for job in group if job.writes]
        if writes:
            self._write(writes)
        claims = [job for job in group if job.claim is not None]
        if claims:
            self._claim(claims)
        for job in group:
            if job.call is not None:
                try:
                    job.outcome = job.call()
                except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                    job.error = exc
        _wake(group)

    def _claim(self, jobs: list[_Job]) -> None:
        try:
            outcomes = self._ledger.claim_group([job.claim for job in jobs if job.claim is not None])
        except Exception as exc:  # noqa: BLE001 - handed to the waiting requests
            outcomes = [exc] * len(jobs)
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, Exception):
                job.error = outcome
            else:
                job.outcome = outcome

    def _write(self, jobs: list[_Job]) -> None:
        try:
            self._ledger.record([row for job in jobs for row in job.rows])
            return
        except Exception as exc:  # noqa: BLE001 - handed to the waiting requests
            if len(jobs) == 1:
                jobs[0].error = exc
                return
        for job in jobs:  # the group failed: each request on its own, so only a bad one fails
            try:
                self._ledger.record(job.rows)
            except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                job.error = exc


def _size(job: _Job) -> int:
    return len(job.rows) + (len(job.claim.rows) + len(job.claim.subjects) if job.claim is not None else 0)


def _wake(group: list[_Job]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
    for job in group:
        by_loop.setdefault(job.loop, []).append(job)
    for loop, jobs in by_loop.items():
        try:
            loop.call_soon_threadsafe(_complete, jobs)
        except RuntimeError:  # the loop closed while its requests waited
            logger.debug("ledger result for a closed event loop dropped")


def _complete(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.done():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.outcome)
