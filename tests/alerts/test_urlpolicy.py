"""Which webhook URLs a subscription may name."""

from __future__ import annotations

import pytest

from services.alerts.urlpolicy import PinnedRequest, UnresolvedHost, UrlPolicyError, check_webhook_url, pin

DNS = {"hooks.example.org": ["93.184.216.34"], "mixed.example.org": ["93.184.216.34", "10.0.0.5"],
       "internal.example.org": ["192.168.1.10"], "v6.example.org": ["2606:4700::6810:84e5"],
       "mapped.example.org": ["::ffff:127.0.0.1"]}


def fake_resolver(host: str, port: int) -> list[str]:
    if host not in DNS:
        raise OSError("no such host")
    return DNS[host]


@pytest.mark.parametrize("url", [
    "https://hooks.example.org/qw",
    "http://hooks.example.org:8080/qw?x=1",
    "https://93.184.216.34/hook",
    "https://v6.example.org/hook",
])
def test_public_http_and_https_urls_are_accepted(url: str) -> None:
    check_webhook_url(url, allow_private=False, resolver=fake_resolver)


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://hooks.example.org/x", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("hooks.example.org/x", "scheme"),
    ("https://user:pw@hooks.example.org/x", "userinfo"),
    ("https://user@hooks.example.org/x", "userinfo"),
    ("https:///nohost", "no host"),
    ("https://hooks.example.org:99999/x", "not a valid URL"),
    ("https://hooks.example.org/x#frag", "fragment"),
    ("http://127.0.0.1:8080/x", "non-public"),
    ("http://localhost/x", "does not resolve"),
    ("http://10.1.2.3/x", "non-public"),
    ("http://172.16.0.1/x", "non-public"),
    ("http://192.168.0.1/x", "non-public"),
    ("http://169.254.169.254/latest/meta-data", "non-public"),
    ("http://[::1]/x", "non-public"),
    ("http://[fe80::1]/x", "non-public"),
    ("http://[fd00::1]/x", "non-public"),
    ("http://0.0.0.0/x", "non-public"),
    ("http://100.64.0.1/x", "non-public"),
    ("http://224.0.0.1/x", "non-public"),
    ("https://internal.example.org/x", "non-public"),
    ("https://mixed.example.org/x", "non-public"),
    ("https://mapped.example.org/x", "non-public"),
    ("https://nowhere.invalid/x", "does not resolve"),
    ("https://hooks.example.org/" + "a" * 2100, "longer than"),
])
def test_unsafe_urls_are_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(UrlPolicyError, match=reason):
        check_webhook_url(url, allow_private=False, resolver=fake_resolver)


def test_private_targets_are_allowed_when_the_setting_says_so() -> None:
    check_webhook_url("http://127.0.0.1:9000/hook", allow_private=True, resolver=fake_resolver)
    check_webhook_url("http://localhost:9000/hook", allow_private=True, resolver=fake_resolver)


def test_allow_private_still_refuses_credentials_and_other_schemes() -> None:
    with pytest.raises(UrlPolicyError, match="userinfo"):
        check_webhook_url("http://a:b@127.0.0.1/x", allow_private=True)
    with pytest.raises(UrlPolicyError, match="scheme"):
        check_webhook_url("gopher://127.0.0.1/x", allow_private=True)


@pytest.mark.parametrize(("url", "connect_to", "host", "sni"), [
    ("https://hooks.example.org/qw?x=1", "https://93.184.216.34/qw?x=1", "hooks.example.org", "hooks.example.org"),
    ("http://hooks.example.org:8080/qw", "http://93.184.216.34:8080/qw", "hooks.example.org:8080", None),
    ("https://v6.example.org/hook", "https://[2606:4700::6810:84e5]/hook", "v6.example.org", "v6.example.org"),
    ("https://93.184.216.34/hook", "https://93.184.216.34/hook", "93.184.216.34", "93.184.216.34"),
])
def test_a_delivery_connects_to_the_address_that_was_checked_with_the_original_host(
        url: str, connect_to: str, host: str, sni: str | None) -> None:
    assert pin(url, allow_private=False, resolver=fake_resolver) == PinnedRequest(connect_to, host, sni)


def test_pinning_refuses_what_the_check_refuses_and_says_when_a_host_does_not_resolve() -> None:
    with pytest.raises(UrlPolicyError, match="non-public address"):
        pin("https://mixed.example.org/x", allow_private=False, resolver=fake_resolver)
    with pytest.raises(UnresolvedHost, match="does not resolve"):
        pin("https://nowhere.example.org/x", allow_private=True, resolver=fake_resolver)
    assert pin("http://internal.example.org/x", allow_private=True, resolver=fake_resolver).url == \
        "http://192.168.1.10/x"


@pytest.mark.parametrize("address", [
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:808:808::1",  # 6to4 even of a public address: 6to4 is deprecated and relayed
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::808:808",  # local-use NAT64
    "::10.0.0.1",  # IPv4-compatible
    "::ffff:192.168.1.1",  # IPv4-mapped
])
def test_ipv6_addresses_carrying_an_ipv4_address_that_is_not_judged_public_are_refused(address: str) -> None:
    with pytest.raises(UrlPolicyError, match="non-public"):
        check_webhook_url(f"https://[{address}]/hook", allow_private=False, resolver=fake_resolver)


def test_a_nat64_address_of_a_public_ipv4_address_is_accepted() -> None:
    """A DNS64 resolver answers 64:ff9b::/96 for IPv4-only hosts: judged by the IPv4 address inside."""
    check_webhook_url("https://[64:ff9b::5db8:d822]/hook", allow_private=False, resolver=fake_resolver)
