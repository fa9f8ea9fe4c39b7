"""The ledger worker's hand-off (a fake ledger, no I/O): work submitted in the same event-loop turn as
the worker's shutdown is still done, and each claim of a turn is answered on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from services.intake.group_commit import LedgerWorker


class FakeLedger:
    def __init__(self) -> None:
        self.recorded: list[object] = []
        self.claims: list[list[str]] = []

    def record(self, rows: Sequence[object]) -> None:
        self.recorded.extend(rows)

    def claim(self, sender: str, rows: Sequence[str], subjects: Sequence[str], now: object) -> str:
        self.claims.append(list(rows))
        return f"claimed {rows[0]}"


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


def test_claims_from_one_turn_each_run_on_their_own() -> None:
    """Each claim is its own transaction (a refused request rolls back only its own claims), and every
    request of the turn gets its own answer."""
    async def scenario() -> tuple[list[object], list[list[str]]]:
        ledger = FakeLedger()
        worker = LedgerWorker(ledger)  # type: ignore[arg-type]
        try:
            answers = await asyncio.wait_for(
                asyncio.gather(*(worker.claim("lab:L", [f"e{i}"], [], None) for i in range(5))), 5)  # type: ignore[list-item, arg-type]
        finally:
            worker.close()
        return list(answers), ledger.claims

    answers, claims = asyncio.run(scenario())
    assert answers == [f"claimed e{i}" for i in range(5)]
    assert sorted(c[0] for c in claims) == [f"e{i}" for i in range(5)]
