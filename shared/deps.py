"""Typed FastAPI dependencies that every service has: the runtime objects its wiring keeps in ``app.state``.

Each service's ``deps.py`` re-exports these beside its own, and its routers take them from there instead of
reaching into the request. They are ``async`` so that FastAPI does not send a mere attribute read to a thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from shared.auth import Authenticator
from shared.catalogue import Catalogue
from shared.clock import Clock
from shared.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_catalogue(request: Request) -> Catalogue:
    return request.app.state.catalogue


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock


async def get_sessions(request: Request) -> sessionmaker[Session]:
    """The session factory: a route opens its own session or transaction, as narrow as it needs."""
    return request.app.state.sessions


async def get_authenticator(request: Request) -> Authenticator:
    return request.app.state.authenticator


SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]
AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]
