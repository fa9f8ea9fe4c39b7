"""Silences: time-bounded matchers that mute an alert's notifications.

A silence matches an alert when every matcher it sets matches: ``indicator`` and ``category``
exactly, ``region`` when it is the alert's region or one the region rolls up to (a city silence
covers its counties; the province code covers everything). Active while
``starts_at <= now < ends_at`` (deleting a silence moves ``ends_at`` to the deletion time).
Silences mute firing, escalation and reminder notices; a resolve notice still goes to the
subscriptions that heard the alert fire, so nobody is left believing it still fires.

An agency lists only the silences that can mute its alerts (``concerned_agencies``), without key ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.alerts.models import Alert, Silence
from services.alerts.routing import agencies_for_alert
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


def concerned_agencies(silence: Silence, catalogue: Catalogue) -> set[str]:
    """The agencies whose alerts the silence can mute: the responsible agencies of each indicator it matches
    (every indicator when it names none), in its region or, with no region, in the province and every city."""
    specs = [catalogue.indicator(silence.indicator)] if silence.indicator is not None else \
        list(catalogue.indicators)
    regions = (silence.region,) if silence.region is not None else (catalogue.province_code, *catalogue.city_codes)
    agencies: set[str] = set()
    for spec in specs:
        if spec is None:
            continue
        for region in regions:
            agencies.update(agencies_for_alert(catalogue, spec.id, region, silence.category))
    return agencies


def is_silenced(silences: Sequence[Silence], alert: Alert, catalogue: Catalogue) -> bool:
    return any(matches(s, alert, catalogue) for s in silences)
