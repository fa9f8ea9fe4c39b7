"""API keys and bearer authentication, shared by the three services.

Operators create keys on intake; the server keeps only a SHA-256 hash. Every service reads the
same ``api_key`` table, so one key works everywhere. ``QW_ADMIN_TOKEN`` is an operator token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request
from sqlalchemy import String, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from starlette.concurrency import run_in_threadpool

from shared.clock import Clock, SystemClock
from shared.db import Base

Role = Literal["lab", "agency", "operator"]
KEY_PREFIX = "qw_"
ADMIN_KEY_ID = "admin-token"
logger = logging.getLogger(__name__)


class ApiKey(Base):
    __tablename__ = "api_key"

    key_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(String(16))
    lab_id: Mapped[str | None] = mapped_column(String(100))
    agency_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str | None] = mapped_column(String(100))
    revoked_at: Mapped[dt.datetime | None]
    # When the key last authenticated a request, to the minute (``UsageRecorder``): labs gone silent show.
    last_used_at: Mapped[dt.datetime | None]


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    key_id: str
    lab_id: str | None = None
    agency_id: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def may_read(self) -> bool:
        return self.role in ("operator", "agency")

    def may_manage_agency(self, agency_id: str) -> bool:
        return self.is_operator or (self.role == "agency" and self.agency_id == agency_id)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_raw_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_key(session: Session, *, role: Role, lab_id: str | None = None, agency_id: str | None = None,
               name: str | None = None, created_by: str | None = None,
               now: dt.datetime | None = None) -> tuple[ApiKey, str]:
    """Store a new key's hash; returns the row and the raw key (shown once, never stored)."""
    raw = new_raw_key()
    row = ApiKey(key_id=str(uuid.uuid4()), key_hash=hash_key(raw), role=role, lab_id=lab_id,
                 agency_id=agency_id, name=name, created_by=created_by,
                 created_at=now or dt.datetime.now(dt.UTC))
    session.add(row)
    return row, raw


class UsageRecorder:
    """Keeps ``api_key.last_used_at`` to within ``every`` seconds without a write per request.

    ``used`` (on the event loop, any request) only notes the time in memory; ``flush`` (in a worker thread,
    called on the Authenticator's cache misses, which happen every ``ttl`` seconds for a busy key) writes
    the noted times in one transaction when ``every`` seconds have passed since the last write, and only
    where the stored time is older, so several processes sharing the table do not fight. A process that dies
    loses at most ``every`` seconds of "last used"."""

    def __init__(self, sessions: sessionmaker[Session], *, every: float = 60.0,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self._sessions = sessions
        self._every = every
        self._now = now
        self._noted: dict[str, dt.datetime] = {}
        self._flushed = -float("inf")
        self._lock = threading.Lock()

    def used(self, principal: Principal) -> None:
        if principal.key_id != ADMIN_KEY_ID:
            at = self._now()
            with self._lock:
                self._noted[principal.key_id] = at

    def flush(self, *, force: bool = False) -> int:
        """Write the noted times if due (or ``force``); returns how many keys were written."""
        with self._lock:
            if not self._noted or (not force and time.monotonic() - self._flushed < self._every):
                return 0
            noted, self._noted = self._noted, {}
            self._flushed = time.monotonic()
        try:
            with self._sessions.begin() as session:
                for key_id, at in noted.items():
                    session.execute(update(ApiKey).where(ApiKey.key_id == key_id)
                                    .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at))
                                    .values(last_used_at=at))
        except Exception:  # noqa: BLE001 - bookkeeping must never fail a request; retried on the next flush
            logger.warning("could not record API key use", exc_info=True)
            with self._lock:
                for key_id, at in noted.items():
                    self._noted.setdefault(key_id, at)
            return 0
        return len(noted)


class Authenticator:
    """Resolves bearer tokens to principals; caches look-ups briefly (revocation within ``ttl``)."""

    def __init__(self, sessions: sessionmaker[Session], admin_token: str | None, ttl: float = 5.0,
                 clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._admin_token = admin_token
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()
        self.usage = UsageRecorder(sessions, now=(clock or SystemClock()).now)

    def resolve(self, token: str) -> Principal | None:
        if self._admin_token and hmac.compare_digest(token.encode(), self._admin_token.encode()):
            return Principal(role="operator", key_id=ADMIN_KEY_ID)
        digest = hash_key(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit and hit[0] > now:
            return hit[1]
        principal = self._lookup(digest)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, principal)
        self.usage.flush()
        return principal

    def resolve_cached(self, token: str) -> tuple[bool, Principal | None]:
        """``(True, principal or None)`` if answerable without the database, else ``(False, None)``.

        For async callers: on a miss they run ``resolve`` in a worker thread (it queries the database).
        """
        if self._admin_token and hmac.compare_digest(token.encode(), self._admin_token.encode()):
            return True, Principal(role="operator", key_id=ADMIN_KEY_ID)
        with self._lock:
            hit = self._cache.get(hash_key(token))
        if hit and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def _lookup(self, digest: str) -> Principal | None:
        with self._sessions() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
        if row is None or row.revoked_at is not None:
            return None
        return Principal(role=row.role, key_id=row.key_id, lab_id=row.lab_id,
                         agency_id=row.agency_id)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(authenticator: Authenticator, authorization: str) -> Principal:
    """The caller named by an ``Authorization`` header's value, or 401; the one bearer check of every route.

    A cached key (or the admin token) is answered on the event loop; only a cache miss, which queries the
    database, runs in a worker thread."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("missing bearer token")
    hit, principal = authenticator.resolve_cached(token)
    if not hit:
        principal = await run_in_threadpool(authenticator.resolve, token)
    if principal is None:
        raise _unauthorized("invalid or revoked token")
    authenticator.usage.used(principal)
    return principal


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the caller, or 401. The app keeps its Authenticator in app.state."""
    return await authenticate(request.app.state.authenticator, request.headers.get("authorization", ""))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def forbidden(detail: str) -> HTTPException:
    return HTTPException(status_code=403, detail=detail)


def require_operator(principal: CurrentPrincipal) -> Principal:
    if not principal.is_operator:
        raise forbidden("operator role required")
    return principal


def require_reader(principal: CurrentPrincipal) -> Principal:
    if not principal.may_read():
        raise forbidden("agency or operator role required")
    return principal


Operator = Annotated[Principal, Depends(require_operator)]
Reader = Annotated[Principal, Depends(require_reader)]
