"""Which webhook URLs a subscription may name.

http/https only, a host, no userinfo, and (unless ``allow_private``) every address the host
resolves to must be public: no private, loopback, link-local, multicast, reserved or unspecified
targets (IPv4-mapped and NAT64 IPv6 addresses are judged by their IPv4 address; 6to4, Teredo, local-use
NAT64 and IPv4-compatible addresses are refused: see ``_is_public``). The check runs when a
subscription is created and again before every delivery attempt, since DNS answers can change.

A delivery then connects to an address that check resolved (``pin``), sending the original ``Host``
header and TLS server name: a DNS answer that changes between the check and the connection (DNS
rebinding) cannot point a delivery at an internal address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048

Resolver = Callable[[str, int], Iterable[str]]


class UrlPolicyError(ValueError):
    """The URL may not be used as a webhook target; the message says why."""


class UnresolvedHost(UrlPolicyError):
    """The host did not resolve (at delivery time a transient failure, retried)."""


@dataclass(frozen=True, slots=True)
class PinnedRequest:
    """Where a delivery connects: ``url`` names the checked address; ``host`` is the original Host header
    and, for https, the TLS server name that the certificate is verified against."""

    url: str
    host: str
    sni_hostname: str | None


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


# IPv6 ranges that carry an IPv4 address (RFC 6052, 3056, 4380, 4291, 8215).
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
REFUSED_TRANSITION = (
    ipaddress.IPv6Network("2002::/16"),  # 6to4 (deprecated, RFC 7526): relayed to the IPv4 in bits 16-48
    ipaddress.IPv6Network("2001::/32"),  # Teredo: relayed to an (obfuscated) IPv4 client
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64: the site decides where the IPv4 sits
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated, RFC 4291)
)


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Public, judged by the IPv4 address inside where an IPv6 address carries one: IPv4-mapped addresses and
    the NAT64 well-known prefix (a DNS64 resolver answers with it for IPv4-only hosts, so a public webhook may
    legitimately resolve to it) by their IPv4 address; 6to4, Teredo, local-use NAT64 and IPv4-compatible
    addresses not at all (deprecated or site-specific: no webhook needs them, and they reach an IPv4 address
    that the policy could not judge reliably)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in NAT64_WELL_KNOWN:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif any(address in network for network in REFUSED_TRANSITION):
            return False
    return address.is_global and not (address.is_private or address.is_loopback or address.is_link_local
                                      or address.is_multicast or address.is_reserved
                                      or address.is_unspecified)


def check_webhook_url(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> None:
    """Raise :class:`UrlPolicyError` unless ``url`` is an acceptable webhook target (with ``allow_private``,
    the host is not looked up)."""
    parts = _parsed(url)
    if not allow_private:
        _addresses(parts, allow_private=False, resolver=resolver)


def pin(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> PinnedRequest:
    """Check ``url`` and say where to connect: an address the host resolved to (all of them passed the
    check; IPv4 first), with the original host as ``Host`` header and TLS server name."""
    parts = _parsed(url)
    addresses = _addresses(parts, allow_private=allow_private, resolver=resolver)
    address = next((a for a in addresses if a.version == 4), addresses[0])
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port is not None else literal
    host = parts.hostname or ""
    return PinnedRequest(url=parts._replace(netloc=netloc).geturl(), host=parts.netloc,
                         sni_hostname=host if parts.scheme == "https" else None)


def _parsed(url: str) -> SplitResult:
    if len(url) > MAX_URL_LENGTH:
        raise UrlPolicyError(f"URL longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise UrlPolicyError(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UrlPolicyError("scheme must be http or https")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise UrlPolicyError("credentials (userinfo) in the URL are not allowed; use the signing secret")
    if not parts.hostname:
        raise UrlPolicyError("URL has no host")
    if parts.fragment:
        raise UrlPolicyError("URL may not have a fragment")
    return parts


def _addresses(parts: SplitResult, *, allow_private: bool,
               resolver: Resolver) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses the URL's host resolves to, all acceptable; else UrlPolicyError."""
    host = parts.hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0])
                         for a in resolver(host, parts.port or (443 if parts.scheme == "https" else 80))]
        except (OSError, UnicodeError) as exc:
            raise UnresolvedHost(f"host {host!r} does not resolve") from exc
    if not addresses:
        raise UnresolvedHost(f"host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            if not _is_public(address):
                raise UrlPolicyError(f"host {host!r} resolves to a non-public address ({address})")
    return addresses
