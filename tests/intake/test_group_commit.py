"""The ledger worker's hand-off (a fake ledger, no I/O): work submitted in the same event-loop turn as
the worker's shutdown is still done, and the claims of a turn go to the ledger together and each is
answered on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from services.intake.group_commit import LedgerWorker
from services.intake.store import Claim


class FakeLedger:
    def __init__(self) -> None:
        self.recorded: list[object] = []
        self.groups: list[list[str]] = []

    def record(self, rows: Sequence[object]) -> None:
        self.recorded.extend(rows)

    def claim_group(self, claims: Sequence[Claim]) -> list[object]:
        self.groups.append([str(claim.rows[0]) for claim in claims])
        return [ValueError("refused") if claim.rows[0] == "bad" else f"claimed {claim.rows[0]}" for claim in claims]


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


def test_claims_from_one_turn_go_together_and_each_is_answered_on_its_own() -> None:
    """The claims of one turn reach the ledger as one group (one transaction), and every request of the turn
    gets its own answer: an error reaches only the request it belongs to."""
    async def scenario() -> tuple[list[object], list[list[str]]]:
        ledger = FakeLedger()
        worker = LedgerWorker(ledger)  # type: ignore[arg-type]
        try:
            ids = ["e0", "e1", "bad", "e3", "e4"]
            answers = await asyncio.wait_for(asyncio.gather(
                *(worker.claim("lab:L", [i], [], None) for i in ids), return_exceptions=True), 5)  # type: ignore[list-item, arg-type]
        finally:
            worker.close()
        return list(answers), ledger.groups

    answers, groups = asyncio.run(scenario())
    assert [str(a) for a in answers] == ["claimed e0", "claimed e1", "refused", "claimed e3", "claimed e4"]
    assert isinstance(answers[2], ValueError)
    assert groups == [["e0", "e1", "bad", "e3", "e4"]]


def test_a_ledger_that_fails_the_whole_group_fails_each_request() -> None:
    class Broken(FakeLedger):
        def claim_group(self, claims: Sequence[Claim]) -> list[object]:
            raise RuntimeError("database gone")

    async def scenario() -> None:
        worker = LedgerWorker(Broken())  # type: ignore[arg-type]
        try:
            for outcome in await asyncio.gather(*(worker.claim("lab:L", [i], [], None) for i in "ab"),  # type: ignore[list-item, arg-type]
                                                return_exceptions=True):
                with pytest.raises(RuntimeError):
                    raise outcome  # type: ignore[misc]
        finally:
            worker.close()

    asyncio.run(scenario())
