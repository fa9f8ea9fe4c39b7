"""Every module that declares tables, so Alembic and tests see the whole schema."""

from __future__ import annotations

import importlib

MODEL_MODULES: tuple[str, ...] = (
    "shared.auth",
    "services.intake.models",
    "services.indicators.models",
    "services.alerts.models",
    "services.alerts.loop_models",
    "shared.followups",
    "services.indicators.loop_models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
