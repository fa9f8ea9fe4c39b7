"""Typed FastAPI dependencies of the alert service's routes: the runtime objects ``create_app`` keeps in
``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.alerts.runtime import AlertsRuntime
from services.alerts.service import AlertService
from services.alerts.urlpolicy import Resolver
from shared.auth import CurrentPrincipal, Operator, Reader
from shared.deps import CatalogueDep, ClockDep, SessionsDep, SettingsDep

__all__ = ["AlertServiceDep", "CatalogueDep", "ClockDep", "CurrentPrincipal", "Operator", "Reader", "ResolverDep",
           "SessionsDep", "SettingsDep"]


def _runtime(request: Request) -> AlertsRuntime:
    return request.app.state.alerts


async def get_service(request: Request) -> AlertService:
    return _runtime(request).service


async def get_resolver(request: Request) -> Resolver:
    """How webhook host names are resolved for the URL policy (tests pass a fake)."""
    return _runtime(request).resolver


AlertServiceDep = Annotated[AlertService, Depends(get_service)]
ResolverDep = Annotated[Resolver, Depends(get_resolver)]
