"""Follow-up inspections (跟踪抽检): an ``inspection.completed`` event with ``follow_up_of`` names the
alert it answers. The indicators service writes one row per sample (the newest revision wins); the
alerts service counts them per alert and episode (``services.alerts.loop``). The table lives here,
in the shared library, because both services use it (like ``api_key``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class FollowUpInspection(Base):
    __tablename__ = "follow_up_inspection"

    sample_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(32), index=True)
    indicator: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(6))
    verdict: Mapped[str] = mapped_column(String(8))
    revision: Mapped[int]
    occurred_at: Mapped[dt.datetime]
    event_id: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime]
