"""The SSRF guard: which addresses it refuses (every way an IPv6 address can carry an IPv4
one), which URLs it cannot read, and, at delivery time, that private URLs are refused,
recorded and never sent, and that a delivery goes to the address the guard approved."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import timedelta

import pytest
from harness import Hooks
from receiver import Receiver

from creatix.webhooks.ssrf import CheckedUrl, UnsafeUrl, check_url, embedded_ipv4, pinned_target
from rebinding import NAME, STAND_IN_PUBLIC, RebindingName, on_one_port, treat_as_public

# (address, what it carries, public?)
ADDRESSES: list[tuple[str, tuple[str, ...] | None, bool]] = [
    # Plain addresses.
    ("8.8.8.8", None, True),
    ("93.184.216.34", None, True),
    ("2001:4860:4860::8888", None, True),
    ("127.0.0.1", None, False),
    ("10.0.0.1", None, False),
    ("169.254.169.254", None, False),
    ("100.64.0.1", None, False),  # carrier-grade NAT
    ("192.0.2.1", None, False),  # documentation
    ("224.0.0.1", None, False),  # multicast
    ("255.255.255.255", None, False),
    ("0.0.0.0", None, False),
    ("fe80::1", None, False),
    ("fc00::1", None, False),
    ("fd12:3456::1", None, False),
    ("fec0::1", None, False),  # site-local (deprecated)
    ("ff02::1", None, False),
    ("2001:db8::1", None, False),  # documentation
    ("3fff::1", None, False),  # documentation (RFC 9637)
    ("100::1", None, False),  # discard-only
    ("5f00::1", None, False),  # SRv6 SIDs
    ("2001:20::1", None, False),  # ORCHIDv2
    # IPv4-mapped ::ffff:0:0/96: the socket talks IPv4 to the address it carries.
    ("::ffff:8.8.8.8", ("8.8.8.8",), True),
    ("::ffff:127.0.0.1", ("127.0.0.1",), False),
    ("::ffff:169.254.169.254", ("169.254.169.254",), False),
    ("::ffff:10.1.2.3", ("10.1.2.3",), False),
    # NAT64 64:ff9b::/96: a translator forwards to the IPv4 address in the last 32 bits.
    ("64:ff9b::808:808", ("8.8.8.8",), True),
    ("64:ff9b::7f00:1", ("127.0.0.1",), False),
    ("64:ff9b::a9fe:a9fe", ("169.254.169.254",), False),
    ("64:ff9b::c0a8:101", ("192.168.1.1",), False),
    # Local-use NAT64 64:ff9b:1::/48 (RFC 8215): not globally reachable, whatever it carries.
    ("64:ff9b:1::808:808", None, False),
    ("64:ff9b:1::7f00:1", None, False),
    # 6to4 2002::/16: the IPv4 address is bits 16-47.
    ("2002:808:808::1", ("8.8.8.8",), True),
    ("2002:7f00:1::", ("127.0.0.1",), False),
    ("2002:a9fe:a9fe::", ("169.254.169.254",), False),
    ("2002:a00:1::", ("10.0.0.1",), False),
    # Teredo 2001::/32: server in bits 32-63, client in the last 32 bits XOR 0xffffffff.
    ("2001:0:808:808::f7f7:fbfb", ("8.8.8.8", "8.8.4.4"), True),
    ("2001:0:808:808::80ff:fffe", ("8.8.8.8", "127.0.0.1"), False),  # client loopback
    ("2001:0:808:808::5601:5601", ("8.8.8.8", "169.254.169.254"), False),  # client metadata
    ("2001:0:7f00:1::f7f7:f7f7", ("127.0.0.1", "8.8.8.8"), False),  # server loopback
    # IPv4-compatible ::/96 (deprecated, routed nowhere): refused whatever it carries.
    ("::127.0.0.1", ("127.0.0.1",), False),
    ("::169.254.169.254", ("169.254.169.254",), False),
    ("::8.8.8.8", ("8.8.8.8",), False),
    ("::1", ("0.0.0.1",), False),
    ("::", ("0.0.0.0",), False),
]


@pytest.mark.parametrize(("text", "carried", "public"), ADDRESSES)
def test_embedded_ipv4_is_decoded(text: str, carried: tuple[str, ...] | None, public: bool) -> None:
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address) and not text.startswith("64:ff9b:1:"):
        found = embedded_ipv4(address)
        assert (tuple(map(str, found)) if found is not None else None) == carried


@pytest.mark.parametrize(("text", "carried", "public"), ADDRESSES)
async def test_the_guard_refuses_every_non_public_address_in_a_url(
    text: str, carried: tuple[str, ...] | None, public: bool
) -> None:
    host = f"[{text}]" if ":" in text else text
    url = f"http://{host}:8080/hook"
    if public:
        checked = await check_url(url, param="webhook_url", allow_private=False)
        assert ipaddress.ip_address(checked.address) == ipaddress.ip_address(text)
        return
    with pytest.raises(UnsafeUrl) as refused:
        await check_url(url, param="webhook_url", allow_private=False)
    assert refused.value.status == 400
    assert refused.value.param == "webhook_url"
    assert refused.value.code == "unsafe_url"
    assert "private, loopback or link-local" in refused.value.message
    for embedded in carried or ():
        if not ipaddress.ip_address(embedded).is_global:
            assert embedded in refused.value.message  # says what it carries


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/",
        "http://example.com:99999/",
        "http://127.0.0.1:abc/",
        "http://127.0.0.1:-1/",
        "http://127.0.0.1:0/",
        "http://[::1/",
        "http://::1]/",
        "http://[::1]:80:80/",
        "http://[v1.x]/",
        "http://[1:2::3:4:5:6:7:8:9]/",
        "http://a@b@example.com/",
        "http://user@evil.example\\@example.com/",
        "http://evil.example\\.example.com/",
        "http://xn--/",
        "http://①②⑦.0.0.1/",
        "http://exa\tmple.com/",
        "http://a\x00b/",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
async def test_a_url_that_does_not_parse_one_way_is_a_400_naming_the_field(
    url: str, allow_private: bool
) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        await check_url(url, param="webhook_url", allow_private=allow_private)
    assert refused.value.status == 400
    assert refused.value.param == "webhook_url"
    assert refused.value.code == "invalid_url"
    assert refused.value.message.startswith("webhook_url is not a valid URL")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "not a url", "http:///x", "//x/"]
)
async def test_only_http_urls_with_a_host_pass(url: str) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        await check_url(url, param="webhook_url", allow_private=True)
    assert (refused.value.status, refused.value.param) == (400, "webhook_url")


async def test_a_name_that_cannot_be_looked_up_is_a_400() -> None:
    # A 64-character label is more than DNS (and Python's IDNA codec) takes.
    with pytest.raises(UnsafeUrl) as refused:
        await check_url(f"http://{'a' * 64}.example/", param="webhook_url", allow_private=True)
    assert (refused.value.status, refused.value.param) == (400, "webhook_url")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "http://10.0.0.1:{port}/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/hook",
        "http://localhost:{port}/hook",
        "http://[::ffff:127.0.0.1]:{port}/hook",
        "http://[64:ff9b::7f00:1]:{port}/hook",
        "http://[2002:7f00:1::]:{port}/hook",
        "http://[::127.0.0.1]:{port}/hook",
    ],
)
async def test_a_private_url_is_refused_recorded_and_never_sent(
    guarded: Hooks, receiver: Receiver, url: str
) -> None:
    delivery = await guarded.delivery_to(url.format(port=receiver.port))
    assert await guarded.deliverer.run_due() == 1
    guarded.clock.advance(timedelta(days=2))
    assert await guarded.deliverer.run_due() == 0

    found = await guarded.delivery(delivery.id, delivery.job_id)
    assert found.status == "failed"
    [attempt] = found.attempt_log
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "private, loopback or link-local" in attempt.error
    assert receiver.received == []


def test_a_checked_url_is_sent_to_the_checked_address_under_its_own_name() -> None:
    checked = CheckedUrl(
        url="https://hooks.example.com:8443/in?x=1",
        host="hooks.example.com",
        port=8443,
        address="2001:db8::7",
    )
    url, headers, extensions = pinned_target(checked)
    assert str(url) == "https://[2001:db8::7]:8443/in?x=1"
    assert headers == {"Host": "hooks.example.com:8443"}
    assert extensions == {"sni_hostname": "hooks.example.com"}


# -- DNS rebinding ---------------------------------------------------------------------------


def _receiver(host: str, port: int) -> Receiver:
    return Receiver(port=port, host=host).start()


@pytest.fixture
def pinned_and_rebound() -> Iterator[tuple[Receiver, Receiver]]:
    """A receiver on the address the guard approves, one on the address the name turns
    into afterwards: the same port."""
    pinned, rebound = on_one_port(_receiver)
    yield pinned, rebound
    pinned.stop()
    rebound.stop()


async def test_a_name_that_rebinds_after_the_check_gets_no_webhook(
    guarded: Hooks,
    pinned_and_rebound: tuple[Receiver, Receiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The name answers a public address to the guard, then loopback: the webhook goes to
    the address the guard approved, and the name is never looked up again."""
    pinned, rebound = pinned_and_rebound
    treat_as_public(monkeypatch)
    name = RebindingName().install(monkeypatch)

    delivery = await guarded.delivery_to(f"http://{NAME}:{pinned.port}/hook")
    assert await guarded.deliverer.run_due() == 1

    assert rebound.received == []
    [received] = pinned.received
    assert received.headers["host"] == f"{NAME}:{pinned.port}"
    assert name.answers == [STAND_IN_PUBLIC]
    assert name.connected_to == [STAND_IN_PUBLIC]
    found = await guarded.delivery(delivery.id, delivery.job_id)
    assert found.status == "delivered"
