"""Which webhook URLs a subscription may name.

http/https only, a host, no userinfo, and (unless ``allow_private``) every address the host
resolves to must be public: no private, loopback, link-local, multicast, reserved or unspecified
targets (IPv4-mapped IPv6 addresses are judged by their IPv4 address). The check runs when a
subscription is created and again before every delivery attempt, since DNS answers can change.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048

Resolver = Callable[[str, int], Iterable[str]]


class UrlPolicyError(ValueError):
    """The URL may not be used as a webhook target; the message says why."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_private or address.is_loopback or address.is_link_local
                                      or address.is_multicast or address.is_reserved
                                      or address.is_unspecified)


def check_webhook_url(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> None:
    """Raise :class:`UrlPolicyError` unless ``url`` is an acceptable webhook target."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlPolicyError(f"URL longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlPolicyError(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UrlPolicyError("scheme must be http or https")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise UrlPolicyError("credentials (userinfo) in the URL are not allowed; use the signing secret")
    host = parts.hostname
    if not host:
        raise UrlPolicyError("URL has no host")
    if parts.fragment:
        raise UrlPolicyError("URL may not have a fragment")
    if allow_private:
        return
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port or 443)]
        except (OSError, UnicodeError) as exc:
            raise UrlPolicyError(f"host {host!r} does not resolve") from exc
    if not addresses:
        raise UrlPolicyError(f"host {host!r} does not resolve")
    for address in addresses:
        if not _is_public(address):
            raise UrlPolicyError(f"host {host!r} resolves to a non-public address ({address})")
