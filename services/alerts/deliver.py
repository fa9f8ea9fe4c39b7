"""The delivery worker: sends due outbox rows, records every attempt, schedules retries.

``poll(now)`` (the background loop) and ``run_once(now)`` (tests: the same, waiting for the attempts):
1. claim (one short transaction): due ``pending`` deliveries (``next_attempt_at <= now``), on
   PostgreSQL ``FOR UPDATE SKIP LOCKED``; each claimed row's ``next_attempt_at`` moves past the
   attempt's deadline (a lease), so another instance, or this one after a crash, retries it only
   if the attempt never got recorded. At most one attempt per subscription is in flight, and a
   DingTalk/WeCom robot gets at most ``robot_messages_per_minute`` (a held-back delivery stays pending);
2. send, outside any transaction, in the worker's pool: the stored message over its channel
   (``services.alerts.channels``). Each attempt has a TOTAL deadline (``delivery_timeout_seconds``:
   connect, send and read together, however slowly the receiver drips) and reads at most
   ``delivery_response_max_bytes`` of the answer. ``poll`` does not wait for the attempts, so a slow
   or dead receiver holds one pool slot and delays only its own subscription's deliveries;
3. record (one transaction per delivery, as each attempt ends): the attempt, and delivered / retry /
   gave_up.

Retries use exponential backoff with full jitter (``retry_initial_seconds`` doubling up to
``retry_max_seconds``) until ``retry_give_up_seconds`` after the delivery was created (or
redelivered). Everything lives in the database: a restarted service resumes pending retries with
the same ``delivery_id``. A deleted subscription, or a URL the policy no longer allows, fails the
delivery without retry. A delivered message is never sent again by the worker (only an operator's
redeliver sends it again): robots and mailboxes cannot tell a repeat from a new message.

Alertmanager subscriptions also get every alert still firing re-pushed each
``alertmanager_resend_seconds`` (below Alertmanager's ``resolve_timeout``), so Alertmanager keeps it
active for as long as it fires; these refreshes are not outbox deliveries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx
import orjson
from sqlalchemy import select

from services.alerts.channels import ROBOTS, RobotThrottle, judge, request_url
from services.alerts.metrics import AlertsMetrics
from services.alerts.models import Delivery, DeliveryAttempt, Subscription
from services.alerts.payload import request_headers
from services.alerts.service import AlertService, pending_count
from services.alerts.store import severities_left
from services.alerts.urlpolicy import Resolver, UnresolvedHost, UrlPolicyError, pin, system_resolver
from shared.db import is_postgres
from shared.settings import Settings

logger = logging.getLogger(__name__)

Jitter = Callable[[float], float]
USER_AGENT = "QualityWatch-Alerts/1"
PER_SUBSCRIPTION = 10  # deliveries one subscription's sender takes per round (sent one after the other)


def full_jitter(rng: random.Random | None = None) -> Jitter:
    source = rng or random.Random()
    return lambda cap: source.uniform(0, cap)


def backoff_cap(attempt: int, *, initial: float, maximum: float) -> float:
    """The upper bound of the wait after failed attempt number ``attempt`` (1-based)."""
    return min(maximum, initial * (2 ** max(0, attempt - 1)))


@dataclass(frozen=True)
class _Claim:
    delivery_id: str
    subscription_id: str
    channel: str
    url: str | None  # None: the subscription is gone
    secret: str
    options: str
    body: str
    attempt: int


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    latency_ms: float | None
    error: str | None
    retryable: bool = True
    delivered: bool = False

    @property
    def ok(self) -> bool:
        return self.delivered


class AttemptFailed(Exception):
    """An attempt ended without an answer (deadline, connection, protocol); the message says which."""


class DeliveryWorker:
    def __init__(self, *, service: AlertService, settings: Settings, metrics: AlertsMetrics,
                 client: httpx.Client | None = None, jitter: Jitter | None = None,
                 resolver: Resolver = system_resolver, batch_size: int = 50, concurrency: int | None = None) -> None:
        self.service = service
        self.settings = settings
        self.metrics = metrics
        # Each attempt opens its own connection under its own deadline; a given client only says whether
        # proxies from the environment apply (tests pass trust_env=False).
        self.trust_env = client.trust_env if client is not None else True
        if client is not None:
            client.close()
        self.jitter = jitter or full_jitter()
        self.resolver = resolver
        self.batch_size = batch_size
        self.concurrency = concurrency or settings.delivery_concurrency
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="qw-deliver")
        self._busy: set[str] = set()  # subscriptions with an attempt in flight
        self._busy_lock = threading.Lock()
        self.throttle = RobotThrottle(settings.robot_messages_per_minute)
        self._refreshed: dict[str, dt.datetime] = {}  # alertmanager subscription -> last re-push

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def run_once(self, now: dt.datetime, *, wait: bool = True) -> int:
        """Attempt every delivery due at ``now`` (``wait``: until each attempt is recorded); returns how many
        were started."""
        claims = self._claim(now)
        by_subscription: dict[str, list[_Claim]] = {}
        for claim in claims:
            by_subscription.setdefault(claim.subscription_id, []).append(claim)
        futures: list[Future[None]] = [self._pool.submit(self._attempts, group, now)
                                       for group in by_subscription.values()]
        futures.extend(self._refresh_alertmanagers(now))
        if wait:
            for future in futures:
                future.result()
        with self.service.sessions() as session:
            self.metrics.pending_deliveries.set(pending_count(session))
        return len(claims)

    def poll(self, now: dt.datetime) -> int:
        """The background loop's step: start due attempts and return at once."""
        return self.run_once(now, wait=False)

    # ---- steps -------------------------------------------------------------------------------------
    def _claim(self, now: dt.datetime) -> list[_Claim]:
        lease = dt.timedelta(seconds=self.settings.delivery_timeout_seconds + 60)
        with self._busy_lock:
            free = self.concurrency - len(self._busy)
        if free <= 0:
            return []
        with self.service.write() as session:
            query = (select(Delivery).where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
                     .order_by(Delivery.next_attempt_at, Delivery.delivery_id).limit(self.batch_size * 4))
            if is_postgres(session.get_bind()):
                query = query.with_for_update(skip_locked=True)
            claims: list[_Claim] = []
            per_subscription: dict[str, int] = {}
            with self._busy_lock:
                for row in session.scalars(query).all():
                    if len(claims) >= self.batch_size:
                        break
                    taken = per_subscription.get(row.subscription_id, 0)
                    if row.subscription_id in self._busy or taken >= PER_SUBSCRIPTION:
                        continue  # one sender per subscription at a time: a slow receiver waits for itself
                    if taken == 0 and len(per_subscription) >= free:
                        continue  # no free slot for another subscription this round
                    subscription = session.get(Subscription, row.subscription_id)
                    live = subscription if subscription is not None and subscription.deleted_at is None else None
                    channel = (live.channel if live is not None else row.channel) or "webhook"
                    if live is not None and channel in ROBOTS and not self.throttle.take(live.url, now.timestamp()):
                        continue  # the robot's minute is full: stays pending, goes when the window allows
                    per_subscription[row.subscription_id] = taken + 1
                    row.next_attempt_at = now + lease * (taken + 1)
                    claims.append(_Claim(row.delivery_id, row.subscription_id, channel,
                                         live.url if live is not None else None,
                                         live.secret if live is not None else "",
                                         live.options if live is not None else "{}", row.body, row.attempts + 1))
                self._busy.update(per_subscription)
        return claims

    def _attempts(self, claims: list[_Claim], now: dt.datetime) -> None:
        """One subscription's claimed deliveries, in order, on one pool thread."""
        try:
            for claim in claims:
                try:
                    outcome = self._send(claim, now)
                except Exception as exc:  # noqa: BLE001 - an attempt never kills the worker; it is recorded
                    logger.exception("delivery attempt crashed", extra={"delivery_id": claim.delivery_id})
                    outcome = _Outcome(None, None, f"internal error: {type(exc).__name__}")
                self._record(claim, outcome, now)
        finally:
            with self._busy_lock:
                self._busy.discard(claims[0].subscription_id)

    def _send(self, claim: _Claim, now: dt.datetime) -> _Outcome:
        if claim.url is None:
            return _Outcome(None, None, "subscription deleted", retryable=False)
        if claim.channel == "email":
            return self._send_email(claim)
        url = request_url(claim.channel, claim.url, claim.secret, int(now.timestamp() * 1000))
        body = claim.body.encode()
        if claim.channel == "webhook":
            headers = request_headers(delivery_id=claim.delivery_id, secret=claim.secret,
                                      timestamp=int(now.timestamp()), body=body)
        else:
            headers = {"Content-Type": "application/json; charset=utf-8"}
        return self._post(url, body, headers, channel=claim.channel)

    def _post(self, url: str, body: bytes, headers: dict[str, str], *, channel: str) -> _Outcome:
        try:  # checked again now (DNS answers change), and the connection goes to the address checked
            target = pin(url, allow_private=self.settings.allow_private_webhooks, resolver=self.resolver)
        except UnresolvedHost as exc:
            return _Outcome(None, None, f"url policy: {exc}")  # DNS trouble passes: retried
        except UrlPolicyError as exc:
            return _Outcome(None, None, f"url policy: {exc}", retryable=False)
        headers = {**headers, "Host": target.host, "User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
        started = time.perf_counter()
        try:
            code, content = self._bounded_post(target.url, body, headers, extensions)
            verdict = judge(channel, code, content)
            outcome_code, error, delivered = code, verdict.error, verdict.ok
        except AttemptFailed as exc:
            outcome_code, error, delivered = None, str(exc)[:500], False
        elapsed = time.perf_counter() - started
        self.metrics.delivery_seconds.observe(elapsed)
        return _Outcome(outcome_code, round(elapsed * 1000, 3), error, delivered=delivered)

    def _bounded_post(self, url: str, body: bytes, headers: dict[str, str],
                      extensions: dict[str, str] | None) -> tuple[int, bytes]:
        """POST under one total deadline, reading at most ``delivery_response_max_bytes`` of the answer."""
        deadline = self.settings.delivery_timeout_seconds
        cap = self.settings.delivery_response_max_bytes

        async def attempt() -> tuple[int, bytes]:
            async with httpx.AsyncClient(trust_env=self.trust_env, follow_redirects=False, timeout=deadline) as client:
                request = client.build_request("POST", url, content=body, headers=headers, extensions=extensions)
                response = await client.send(request, stream=True)
                try:
                    data = bytearray()
                    async for chunk in response.aiter_raw():
                        data += chunk
                        if len(data) >= cap:
                            break
                    return response.status_code, bytes(data[:cap])
                finally:
                    await response.aclose()

        try:
            return asyncio.run(asyncio.wait_for(attempt(), deadline))
        except TimeoutError:
            raise AttemptFailed(f"no complete answer within the {deadline:g} s deadline") from None
        except httpx.HTTPError as exc:
            raise AttemptFailed(f"{type(exc).__name__}: {exc}") from None

    def _send_email(self, claim: _Claim) -> _Outcome:
        settings = self.settings
        if not settings.smtp_host:
            return _Outcome(None, None, "email is not configured (smtp_host)")
        content = orjson.loads(claim.body)
        recipients = list(orjson.loads(claim.options or "{}").get("recipients") or [])
        message = EmailMessage()
        message["Subject"] = content["subject"]
        message["From"] = settings.smtp_sender
        message["To"] = ", ".join(recipients)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(idstring=claim.delivery_id, domain="qualitywatch.invalid")
        message["X-QW-Delivery-Id"] = claim.delivery_id
        message.set_content(content["text"])
        message.add_alternative(content["html"], subtype="html")
        context = ssl.create_default_context()
        if not settings.smtp_verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        timeout = settings.delivery_timeout_seconds
        started = time.perf_counter()
        try:
            smtp: smtplib.SMTP
            if settings.smtp_security == "tls":
                smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout, context=context)
            else:
                smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
            with smtp:
                if settings.smtp_security == "starttls":
                    smtp.starttls(context=context)
                if settings.smtp_username and settings.smtp_password is not None:
                    smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
                refused = smtp.send_message(message, to_addrs=recipients)
            error = f"refused recipients: {sorted(refused)}"[:500] if refused else None
            outcome = _Outcome(None, None, error, delivered=True)
        except smtplib.SMTPResponseException as exc:
            outcome = _Outcome(None, None, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:500],
                               retryable=exc.smtp_code < 500 or exc.smtp_code in (535, 530))
        except (smtplib.SMTPException, OSError) as exc:
            outcome = _Outcome(None, None, f"{type(exc).__name__}: {exc}"[:500])
        elapsed = time.perf_counter() - started
        self.metrics.delivery_seconds.observe(elapsed)
        return _Outcome(outcome.status_code, round(elapsed * 1000, 3), outcome.error, outcome.retryable,
                        outcome.delivered)

    def _refresh_alertmanagers(self, now: dt.datetime) -> list[Future[None]]:
        """Re-push the alerts still firing to each Alertmanager subscription every ``alertmanager_resend_seconds``."""
        interval = dt.timedelta(seconds=self.settings.alertmanager_resend_seconds)
        jobs: list[tuple[str, str, bytes]] = []
        with self.service.sessions() as session:
            subscriptions = session.scalars(select(Subscription).where(Subscription.channel == "alertmanager",
                                                                       Subscription.deleted_at.is_(None))).all()
            for subscription in subscriptions:
                last = self._refreshed.get(subscription.subscription_id)
                if last is not None and now - last < interval:
                    continue
                with self._busy_lock:
                    if subscription.subscription_id in self._busy:
                        continue
                self._refreshed[subscription.subscription_id] = now
                alerts = self.service.notifier.firing_for(session, subscription, now)
                if not alerts:
                    continue
                renderer = self.service.notifier.renderer
                body = orjson.dumps([pushed for a in alerts
                                     for pushed in renderer.alertmanager_alerts(a, "reminder", subscription.agency_id,
                                                                                severities_left(session, a, now))])
                jobs.append((subscription.subscription_id, subscription.url, body))
        futures = []
        for subscription_id, url, body in jobs:
            with self._busy_lock:
                self._busy.add(subscription_id)
            futures.append(self._pool.submit(self._refresh_one, subscription_id, url, body))
        return futures

    def _refresh_one(self, subscription_id: str, url: str, body: bytes) -> None:
        try:
            outcome = self._post(request_url("alertmanager", url, "", 0), body,
                                 {"Content-Type": "application/json"}, channel="alertmanager")
            log = logger.debug if outcome.ok else logger.warning
            log("alertmanager refresh", extra={"subscription_id": subscription_id, "ok": outcome.ok,
                                               "status_code": outcome.status_code, "error": outcome.error})
        finally:
            with self._busy_lock:
                self._busy.discard(subscription_id)

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
        self.metrics.notification(result, channel=claim.channel)
        log = logger.info if result == "delivered" else logger.warning
        # (the message keeps its name for every channel: log searches and tests/e2e trace deliveries by it)
        log("webhook attempt", extra={"delivery_id": claim.delivery_id, "channel": claim.channel,
                                      "attempt": claim.attempt, "outcome": result,
                                      "status_code": outcome.status_code, "error": outcome.error})
