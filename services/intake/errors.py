"""Rejections: one exception type carrying the status, the metric reason and the JSON body."""

from __future__ import annotations

from typing import Any

from services.intake.metrics import RejectReason


class Rejection(Exception):
    """The request is refused as a whole; nothing from it is published or recorded."""

    def __init__(self, status: int, reason: RejectReason, detail: str, *, events: int = 1,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.events = events
        self.headers = headers
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, **self.extra}
