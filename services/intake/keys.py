"""API keys: operators create, list and revoke them (the raw key is shown once)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.intake.deps import AuthenticatorDep, CatalogueDep, ClockDep, Operator, SessionsDep
from shared.auth import ApiKey, create_key
from shared.clock import Instant
from shared.db import transaction
from shared.events import Identifier
from shared.jsonbody import StrictJsonRoute

router = APIRouter(prefix="/v1/api-keys", tags=["credentials"], route_class=StrictJsonRoute)

KeyName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class _KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: KeyName | None = None


class LabKeyRequest(_KeyRequest):
    role: Literal["lab"]
    lab_id: Identifier


class AgencyKeyRequest(_KeyRequest):
    role: Literal["agency"]
    agency_id: Identifier


class OperatorKeyRequest(_KeyRequest):
    role: Literal["operator"]


KeyRequest = Annotated[LabKeyRequest | AgencyKeyRequest | OperatorKeyRequest, Field(discriminator="role")]


class _Key(BaseModel):
    """What every answer about a key says (not in OpenAPI: only its subclasses are)."""

    key_id: str
    role: Literal["lab", "agency", "operator"]
    lab_id: str | None
    agency_id: str | None
    name: str | None
    created_at: Instant


class KeyRead(_Key):
    created_by: str | None
    revoked_at: Instant | None
    last_used_at: Instant | None = Field(None, description="when the key last authenticated a request (to the "
                                                             "minute; null: never since this was recorded)")


class _RawKey(BaseModel):
    api_key: str = Field(description="the raw key; shown once, only its hash is stored")


# A class docstring would become the schema's description: the comment keeps OpenAPI as it was.
# Pydantic orders fields from the last base on, so api_key stays the answer's first field.
class KeyCreated(_Key, _RawKey):
    pass


_AUTH_RESPONSES: dict[int | str, dict[str, str]] = {401: {"description": "missing or bad token"},
                                                    403: {"description": "not an operator"}}


@router.post("", status_code=201, response_model=KeyCreated,
             responses={**_AUTH_RESPONSES, 400: {"description": "malformed JSON body, or a key named twice"},
                        413: {"description": "body over the limit (the connection is then closed)"}})
def create_api_key(body: KeyRequest, principal: Operator, catalogue: CatalogueDep, clock: ClockDep,
                   sessions: SessionsDep) -> KeyCreated:
    lab_id = body.lab_id if isinstance(body, LabKeyRequest) else None
    agency_id = body.agency_id if isinstance(body, AgencyKeyRequest) else None
    if agency_id is not None and agency_id not in catalogue.agency_ids():
        raise RequestValidationError([{
            "type": "value_error", "loc": ("body", "agency_id"),
            "msg": f"unknown agency {agency_id!r} (known: {', '.join(catalogue.agency_ids())})",
            "input": agency_id}])
    now = clock.now()
    with transaction(sessions) as session:
        row, raw = create_key(session, role=body.role, lab_id=lab_id, agency_id=agency_id, name=body.name,
                              created_by=principal.key_id, now=now)
    return KeyCreated(api_key=raw, key_id=row.key_id, role=body.role, lab_id=lab_id, agency_id=agency_id,
                      name=body.name, created_at=row.created_at)


@router.get("", response_model=list[KeyRead], responses=_AUTH_RESPONSES)
def list_api_keys(_principal: Operator, sessions: SessionsDep, authenticator: AuthenticatorDep) -> list[KeyRead]:
    authenticator.usage.flush(force=True)  # this process's noted uses, so the list is current
    with sessions() as session:
        rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.key_id)).all()
    return [KeyRead.model_validate(row, from_attributes=True) for row in rows]


@router.delete("/{key_id}", status_code=204, response_class=Response,
               responses={**_AUTH_RESPONSES, 404: {"description": "no such key"}})
def revoke_api_key(key_id: str, _principal: Operator, clock: ClockDep, sessions: SessionsDep,
                   authenticator: AuthenticatorDep) -> Response:
    """Revoke a key: it gives 401 here at once and on the other services within their cache TTL."""
    with transaction(sessions) as session:
        row = session.get(ApiKey, key_id)
        if row is None:
            raise HTTPException(404, f"no API key {key_id!r}")
        if row.revoked_at is None:
            row.revoked_at = clock.now()
    authenticator.forget()
    return Response(status_code=204)
