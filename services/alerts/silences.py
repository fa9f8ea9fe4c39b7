"""Silences: time-bounded matchers that mute an alert's notifications.

A silence matches an alert when every matcher it sets matches: ``indicator`` and ``category``
exactly, ``region`` when it is the alert's region or one the region rolls up to (a city silence
covers its counties; the province code covers everything). Active while
``starts_at <= now < ends_at`` (deleting a silence moves ``ends_at`` to the deletion time).
Silences mute firing, escalation and reminder notices; a resolve notice still goes to the
subscriptions that heard the alert fire, so nobody is left believing it still fires.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.alerts.models import Alert, Silence
from shared.catalogue import Catalogue


def active_silences(session: Session, now: dt.datetime) -> list[Silence]:
    return list(session.scalars(select(Silence).where(Silence.starts_at <= now, Silence.ends_at > now)))


def matches(silence: Silence, alert: Alert, catalogue: Catalogue) -> bool:
    if silence.indicator is not None and silence.indicator != alert.indicator:
        return False
    if silence.category is not None and silence.category != alert.category:
        return False
    if silence.region is not None:
        path = catalogue.resolve_region(alert.region)
        levels = path.levels if path else (alert.region,)
        if silence.region not in levels:
            return False
    return True


def is_silenced(silences: Sequence[Silence], alert: Alert, catalogue: Catalogue) -> bool:
    return any(matches(s, alert, catalogue) for s in silences)
