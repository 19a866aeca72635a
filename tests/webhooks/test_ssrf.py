"""The SSRF guard at delivery time: private URLs are refused, recorded and never sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from harness import Hooks
from receiver import Receiver

from creatix.webhooks.ssrf import CheckedUrl, pinned_target


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "http://10.0.0.1:{port}/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/hook",
        "http://localhost:{port}/hook",
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
