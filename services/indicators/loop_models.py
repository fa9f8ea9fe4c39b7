"""Objections (复检申请) to inspection results, owned by the indicators service (issue 19).

``inspection_objection``: one row per sample whose failing result the enterprise objected to within
the programme's objection period (the first objection counts; a repeat is ignored). ``revision`` is
the inspection revision objected to: the failure stays provisional until a higher revision (the
re-test) replaces it, and the re-test's verdict is final.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class InspectionObjection(Base):
    __tablename__ = "inspection_objection"

    sample_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    revision: Mapped[int]
    objected_at: Mapped[dt.datetime]
    event_id: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime]
