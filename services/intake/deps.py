"""Typed FastAPI dependencies of intake's routes: the runtime objects ``create_app`` keeps in ``app.state``."""

from __future__ import annotations

from shared.auth import CurrentPrincipal, Operator, Reader
from shared.deps import AuthenticatorDep, CatalogueDep, ClockDep, SessionsDep, SettingsDep

__all__ = ["AuthenticatorDep", "CatalogueDep", "ClockDep", "CurrentPrincipal", "Operator", "Reader", "SessionsDep",
           "SettingsDep"]
