"""The delivery worker: sends due outbox rows, records every attempt, schedules retries.

``run_once(now)``:
1. claim (one short transaction): due ``pending`` deliveries (``next_attempt_at <= now``), on
   PostgreSQL ``FOR UPDATE SKIP LOCKED``; each claimed row's ``next_attempt_at`` moves past the
   attempt's deadline (a lease), so another instance, or this one after a crash, retries it only
   if the attempt never got recorded;
2. send, outside any transaction: POST the stored body with a fresh signature;
3. record (one transaction per delivery): the attempt, and delivered / retry / gave_up.

Retries use exponential backoff with full jitter (``retry_initial_seconds`` doubling up to
``retry_max_seconds``) until ``retry_give_up_seconds`` after the delivery was created (or
redelivered). Everything lives in the database: a restarted service resumes pending retries with
the same ``delivery_id``. A deleted subscription, or a URL the policy no longer allows, fails the
delivery without retry.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from services.alerts.metrics import AlertsMetrics
from services.alerts.models import Delivery, DeliveryAttempt, Subscription
from services.alerts.payload import request_headers
from services.alerts.service import AlertService, pending_count
from services.alerts.urlpolicy import Resolver, UnresolvedHost, UrlPolicyError, pin, system_resolver
from shared.db import is_postgres
from shared.settings import Settings

logger = logging.getLogger(__name__)

Jitter = Callable[[float], float]


def full_jitter(rng: random.Random | None = None) -> Jitter:
    source = rng or random.Random()
    return lambda cap: source.uniform(0, cap)


def backoff_cap(attempt: int, *, initial: float, maximum: float) -> float:
    """The upper bound of the wait after failed attempt number ``attempt`` (1-based)."""
    return min(maximum, initial * (2 ** max(0, attempt - 1)))


@dataclass(frozen=True)
class _Claim:
    delivery_id: str
    url: str | None  # None: the subscription is gone
    secret: str
    body: str
    attempt: int


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    latency_ms: float | None
    error: str | None
    retryable: bool = True

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class DeliveryWorker:
    def __init__(self, *, service: AlertService, settings: Settings, metrics: AlertsMetrics,
                 client: httpx.Client | None = None, jitter: Jitter | None = None,
                 resolver: Resolver = system_resolver, batch_size: int = 50, concurrency: int = 8) -> None:
        self.service = service
        self.settings = settings
        self.metrics = metrics
        self.client = client or httpx.Client(timeout=settings.delivery_timeout_seconds, follow_redirects=False,
                                             headers={"User-Agent": "QualityWatch-Alerts/1"})
        self.jitter = jitter or full_jitter()
        self.resolver = resolver
        self.batch_size = batch_size
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="qw-deliver")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.client.close()

    def run_once(self, now: dt.datetime) -> int:
        """Attempt every delivery due at ``now``; returns how many were attempted."""
        claims = self._claim(now)
        outcomes = list(self._pool.map(lambda c: self._send(c, now), claims))
        for claim, outcome in zip(claims, outcomes, strict=True):
            self._record(claim, outcome, now)
        with self.service.sessions() as session:
            self.metrics.pending_deliveries.set(pending_count(session))
        return len(claims)

    # ---- steps -------------------------------------------------------------------------------------
    def _claim(self, now: dt.datetime) -> list[_Claim]:
        lease = dt.timedelta(seconds=self.settings.delivery_timeout_seconds + 60)
        with self.service.write() as session:
            query = (select(Delivery).where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
                     .order_by(Delivery.next_attempt_at, Delivery.delivery_id).limit(self.batch_size))
            if is_postgres(session.get_bind()):
                query = query.with_for_update(skip_locked=True)
            claims = []
            for row in session.scalars(query).all():
                subscription = session.get(Subscription, row.subscription_id)
                live = subscription if subscription is not None and subscription.deleted_at is None else None
                row.next_attempt_at = now + lease
                claims.append(_Claim(row.delivery_id, live.url if live is not None else None,
                                     live.secret if live is not None else "", row.body, row.attempts + 1))
        return claims

    def _send(self, claim: _Claim, now: dt.datetime) -> _Outcome:
        if claim.url is None:
            return _Outcome(None, None, "subscription deleted", retryable=False)
        try:  # checked again now (DNS answers change), and the connection goes to the address checked
            target = pin(claim.url, allow_private=self.settings.allow_private_webhooks, resolver=self.resolver)
        except UnresolvedHost as exc:
            return _Outcome(None, None, f"url policy: {exc}")  # DNS trouble passes: retried
        except UrlPolicyError as exc:
            return _Outcome(None, None, f"url policy: {exc}", retryable=False)
        body = claim.body.encode()
        headers = request_headers(delivery_id=claim.delivery_id, secret=claim.secret,
                                  timestamp=int(now.timestamp()), body=body)
        headers["Host"] = target.host
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
        started = time.perf_counter()
        try:
            response = self.client.post(target.url, content=body, headers=headers, extensions=extensions)
            code, error = response.status_code, None if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            code, error = None, f"{type(exc).__name__}: {exc}"[:500]
        elapsed = time.perf_counter() - started
        self.metrics.delivery_seconds.observe(elapsed)
        return _Outcome(code, round(elapsed * 1000, 3), error)

    def _record(self, claim: _Claim, outcome: _Outcome, now: dt.datetime) -> None:
        with self.service.write() as session:
            row = session.get(Delivery, claim.delivery_id, with_for_update=is_postgres(session.get_bind()))
            if row is None or row.status != "pending":
                return
            row.attempts += 1
            row.last_attempt_at = now
            row.last_status_code = outcome.status_code
            row.last_error = outcome.error
            session.add(DeliveryAttempt(delivery_id=row.delivery_id, attempt=row.attempts, at=now,
                                        status_code=outcome.status_code, latency_ms=outcome.latency_ms,
                                        error=outcome.error))
            given_up_at = row.retry_started_at + dt.timedelta(seconds=self.settings.retry_give_up_seconds)
            if outcome.ok:
                row.status, row.delivered_at, row.next_attempt_at, result = "delivered", now, None, "delivered"
            elif not outcome.retryable:
                row.status, row.next_attempt_at, result = "failed", None, "failed"
            elif now >= given_up_at:
                row.status, row.next_attempt_at, result = "gave_up", None, "gave_up"
            else:
                cap = backoff_cap(row.attempts, initial=self.settings.retry_initial_seconds,
                                  maximum=self.settings.retry_max_seconds)
                row.next_attempt_at = min(now + dt.timedelta(seconds=self.jitter(cap)), given_up_at)
                result = "retrying"
        self.metrics.notification(result)
        log = logger.info if result == "delivered" else logger.warning
        log("webhook attempt", extra={"delivery_id": claim.delivery_id, "attempt": claim.attempt, "outcome": result,
                                      "status_code": outcome.status_code, "error": outcome.error})
