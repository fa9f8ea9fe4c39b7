"""The ledger worker's hand-off (a fake ledger, no I/O): work submitted in the same event-loop turn as
the worker's shutdown is still done, and one turn's submissions are handled together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from services.intake.group_commit import LedgerWorker


class FakeLedger:
    def __init__(self) -> None:
        self.recorded: list[object] = []
        self.lookups: list[list[str]] = []

    def record(self, rows: Sequence[object]) -> None:
        self.recorded.extend(rows)

    def known_hashes(self, event_ids: Sequence[str]) -> dict[str, str]:
        self.lookups.append(list(event_ids))
        return {}


def test_rows_submitted_in_the_same_turn_as_shutdown_are_still_recorded() -> None:
    async def scenario() -> list[object]:
        ledger = FakeLedger()
        worker = LedgerWorker(ledger)  # type: ignore[arg-type]
        await worker.record(["warm-up"])  # the worker thread is running
        request = asyncio.ensure_future(worker.record(["row of a request answered 202"]))

        async def shutdown() -> None:
            worker.close()

        await asyncio.ensure_future(shutdown())  # runs in the turn the request submitted in
        await asyncio.wait_for(request, 5)
        return ledger.recorded

    assert asyncio.run(scenario()) == ["warm-up", "row of a request answered 202"]


def test_look_ups_from_one_turn_are_answered_together() -> None:
    async def scenario() -> tuple[list[dict[str, str]], list[list[str]]]:
        ledger = FakeLedger()
        worker = LedgerWorker(ledger)  # type: ignore[arg-type]
        try:
            answers = await asyncio.wait_for(
                asyncio.gather(*(worker.known_hashes([f"e{i}"]) for i in range(5))), 5)
        finally:
            worker.close()
        return list(answers), ledger.lookups

    answers, lookups = asyncio.run(scenario())
    assert answers == [{}] * 5
    assert sorted(eid for ids in lookups for eid in ids) == [f"e{i}" for i in range(5)]
    assert len(lookups) == 1  # one query for the whole turn
