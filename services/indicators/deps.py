"""Typed FastAPI dependencies of the indicator service's routes: what ``create_app`` keeps in ``app.state``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from services.indicators.reader import FigureReader
from shared.auth import Operator, Reader
from shared.deps import CatalogueDep, ClockDep, SessionsDep, SettingsDep
from shared.kafka import Producer

__all__ = ["CatalogueDep", "ClockDep", "Operator", "ProducerDep", "Reader", "ReaderDep", "SessionsDep",
           "SettingsDep"]


async def get_reader(request: Request) -> FigureReader:
    return request.app.state.reader


async def get_producer_factory(request: Request) -> Callable[[], Producer]:
    """The shared Kafka producer, made on first call (replaying dead letters needs the broker; reads do not)."""
    return request.app.state.get_producer


ReaderDep = Annotated[FigureReader, Depends(get_reader)]
ProducerDep = Annotated[Callable[[], Producer], Depends(get_producer_factory)]
