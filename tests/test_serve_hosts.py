"""Which Host a file link is built on: ``creatix serve`` warns when it listens beyond loopback
and would follow any client's Host header; ``CREATIX_TRUSTED_HOSTS`` makes the API answer only
the hosts it names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from creatix.cli.serve import host_header_warning
from creatix.config import Settings
from support import LiveServer, ServerProcess, make_settings

WARNING = "without CREATIX_PUBLIC_URL or CREATIX_TRUSTED_HOSTS"
UNSET = {"CREATIX_PUBLIC_URL": "", "CREATIX_TRUSTED_HOSTS": ""}


def _served_log(tmp_path: Path, host: str, env: dict[str, str]) -> str:
    """What ``creatix serve --host HOST`` wrote, from start until it answered and stopped."""
    server = ServerProcess(tmp_path / "data", "--host", host, env=env).start()
    try:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()
    return server.log_path.read_text()


def test_serve_off_loopback_without_a_public_url_warns_once(tmp_path: Path) -> None:
    log = _served_log(tmp_path, "0.0.0.0", UNSET)
    [line] = [line for line in log.splitlines() if WARNING in line]
    assert "listening on 0.0.0.0" in line
    assert '"level": "warning"' in line


def test_serve_on_loopback_does_not_warn(tmp_path: Path) -> None:
    log = _served_log(tmp_path, "127.0.0.1", UNSET)
    assert "listening on http://127.0.0.1" in log  # the banner: it did start
    assert WARNING not in log


def test_serve_off_loopback_with_trusted_hosts_does_not_warn(tmp_path: Path) -> None:
    env = {**UNSET, "CREATIX_TRUSTED_HOSTS": "127.0.0.1,creatix.example"}
    log = _served_log(tmp_path, "0.0.0.0", env)
    assert "listening on http://0.0.0.0" in log
    assert WARNING not in log


@pytest.mark.parametrize(
    ("settings", "warns"),
    [
        ({"host": "0.0.0.0"}, True),
        ({"host": "::"}, True),
        ({"host": "192.168.1.5"}, True),
        ({"host": "creatix.internal"}, True),
        ({"host": "127.0.0.1"}, False),
        ({"host": "127.0.0.5"}, False),
        ({"host": "::1"}, False),
        ({"host": "localhost"}, False),
        ({"host": "0.0.0.0", "public_url": "https://creatix.example"}, False),
        ({"host": "0.0.0.0", "trusted_hosts": ["creatix.example"]}, False),
    ],
)
def test_the_warning_is_for_hosts_beyond_loopback_without_a_public_url(
    settings: dict[str, object], warns: bool
) -> None:
    assert (host_header_warning(Settings(**settings)) is not None) is warns


def test_trusted_hosts_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREATIX_TRUSTED_HOSTS", " creatix.example, *.creatix.example ,")
    assert Settings().trusted_hosts == ["creatix.example", "*.creatix.example"]


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("trusted"), trusted_hosts=["127.0.0.1", "creatix.example"]
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


def test_with_trusted_hosts_links_follow_only_those_hosts(trusting: LiveServer) -> None:
    port = trusting.url.rsplit(":", 1)[1]
    body = {"prompt": "a lighthouse at dusk", "response_format": "url"}
    with trusting.client(trusting.key()) as client:
        named = client.post(
            "/v1/images/generations", json=body, headers={"Host": f"creatix.example:{port}"}
        )
        assert named.status_code == 200, named.text
        assert named.json()["data"][0]["url"].startswith(f"http://creatix.example:{port}/files/")

        forged = client.post(
            "/v1/images/generations", json=body, headers={"Host": f"evil.example:{port}"}
        )
        assert forged.status_code == 400
        assert "evil.example" not in forged.text
        assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
