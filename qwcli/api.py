"""The HTTP side of ``qw``: one client for the three services, failures turned into ``CliError``."""

from __future__ import annotations

import json
from typing import Any

import httpx

DEFAULT_URLS = {"intake": "http://127.0.0.1:8001", "indicators": "http://127.0.0.1:8002",
                "alerts": "http://127.0.0.1:8003"}


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Api:
    """One httpx client for the three services; turns failures into ``CliError`` with a readable message."""

    def __init__(self, urls: dict[str, str], token: str | None, timeout: float = 10.0) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.token = token
        self.client = httpx.Client(timeout=timeout)

    def raw(self, service: str, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        base = self.urls[service]
        headers = dict(kwargs.pop("headers", None) or {})
        if auth:
            if not self.token:
                raise CliError("no token: set QW_TOKEN or pass --token", 2)
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            return self.client.request(method, base + path, headers=headers, **kwargs)
        except httpx.ConnectError as exc:
            raise CliError(f"cannot reach {service} at {base}: connection refused or host unknown ({exc}); "
                           f"is it running? (set QW_{service.upper()}_URL to point elsewhere)", 2) from exc
        except httpx.TimeoutException as exc:
            raise CliError(f"{service} at {base} did not answer in time ({type(exc).__name__})", 2) from exc
        except httpx.HTTPError as exc:
            raise CliError(f"{service} at {base}: {exc}", 2) from exc

    def call(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self.raw(service, method, path, **kwargs)
        if response.status_code >= 400:
            raise CliError(f"{service} answered {response.status_code} {response.reason_phrase}: "
                           f"{describe_error(response)}", 1)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text


def describe_error(response: httpx.Response) -> str:
    """The server's ``detail`` (and, for 422, every problem with its path), as readable lines."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or "(no detail)"
    if not isinstance(body, dict):
        return json.dumps(body)[:500]
    detail = body.get("detail")
    lines: list[str] = []
    if isinstance(detail, list):  # FastAPI's validation shape
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", ()))
                lines.append(f"{loc}: {item.get('msg', item)}" if loc else str(item.get("msg", item)))
            else:
                lines.append(str(item))
    elif detail is not None:
        lines.append(str(detail))
    for problem in body.get("errors", ()) or ():  # intake's event problems
        if isinstance(problem, dict):
            index = problem.get("index")
            where = f"event {index} " if index is not None else ""
            lines.append(f"{where}{problem.get('path', '$')}: {problem.get('message', problem)}")
    return "\n  ".join(lines) if lines else json.dumps(body)[:500]
