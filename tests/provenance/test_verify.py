"""Verification through the real parts: ``POST /v1/provenance/verify`` on a live server and
``creatix verify`` / ``creatix provenance ca`` as subprocesses, on files the server made,
tampered with, made elsewhere, or not images at all."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from creatix.accounts import service as accounts
from creatix.provenance.credentials import TRAINED
from support import LiveServer, creatix_command
from tampering import png_with_one_pixel_changed

VERIFY = "/v1/provenance/verify"


@pytest.fixture(scope="module")
def made(server: LiveServer) -> tuple[str, str, bytes]:
    """A PNG this server made: its account's key, its job id and its bytes."""
    secret = server.key()
    with server.client(secret) as client:
        response = client.post(
            "/v1/images/generations",
            json={"model": "creatix-flash", "prompt": "a lighthouse", "output_format": "png"},
        )
    assert response.status_code == 200, response.text
    data = httpx.get(response.json()["data"][0]["url"]).content
    return secret, response.headers["X-Creatix-Job-Id"], data


def _verify(server: LiveServer, secret: str | None, data: bytes, **kwargs: Any) -> httpx.Response:
    with server.client(secret) as client:
        return client.post(VERIFY, files={"file": ("upload.bin", data)}, **kwargs)


def test_its_own_image_is_trusted_marked_and_names_the_job(
    server: LiveServer, made: tuple[str, str, bytes]
) -> None:
    secret, job_id, data = made
    answer = _verify(server, secret, data)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["mime_type"], body["width"], body["height"]) == ("image/png", 1024, 1024)
    credentials = body["content_credentials"]
    assert credentials["present"] is True
    assert credentials["valid"] is True
    assert credentials["trusted"] is True
    assert credentials["digital_source_type"] == TRAINED
    assert credentials["model"] == "creatix-flash"
    assert credentials["development_certificate"] is True
    assert body["xmp_digital_source_type"] == TRAINED
    assert body["invisible_mark"]["present"] is True
    assert body["invisible_mark"]["this_server"] is True
    assert body["job"]["id"] == job_id
    assert body["job"]["model"] == "creatix-flash"


def test_another_account_learns_it_is_this_servers_but_not_whose(
    server: LiveServer, made: tuple[str, str, bytes]
) -> None:
    body = _verify(server, server.key(), made[2]).json()
    assert body["content_credentials"]["trusted"] is True
    assert body["invisible_mark"]["this_server"] is True
    assert body["job"] is None


def test_a_changed_pixel_is_caught(server: LiveServer, made: tuple[str, str, bytes]) -> None:
    secret, _, data = made
    body = _verify(server, secret, png_with_one_pixel_changed(data)).json()
    credentials = body["content_credentials"]
    assert credentials["present"] is True
    assert credentials["valid"] is False
    assert credentials["trusted"] is False
    assert credentials["failures"]
    assert body["invisible_mark"]["present"] is True  # the mark outlives the edit


def test_an_image_made_elsewhere_has_neither(server: LiveServer) -> None:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((512, 384)).convert("RGB").save(buffer, "JPEG")
    body = _verify(server, server.key(), buffer.getvalue()).json()
    assert body["mime_type"] == "image/jpeg"
    assert body["content_credentials"]["present"] is False
    assert body["invisible_mark"] == {"present": False, "payload": None, "this_server": False}
    assert body["xmp_digital_source_type"] is None
    assert body["job"] is None


@pytest.mark.parametrize(
    "data",
    [b"just some text, not a picture", b"", "truncated"],
    ids=["text", "empty", "truncated"],
)
def test_a_file_that_is_not_a_whole_image_is_a_400_naming_the_field(
    server: LiveServer, made: tuple[str, str, bytes], data: bytes | str
) -> None:
    content = made[2][: len(made[2]) // 2] if data == "truncated" else data
    assert isinstance(content, bytes)
    answer = _verify(server, server.key(), content)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == "file"


def test_the_request_must_be_a_multipart_file_or_json_with_a_key(server: LiveServer) -> None:
    with server.client(server.key()) as client:
        raw = client.post(VERIFY, content=b"\x89PNG", headers={"Content-Type": "image/png"})
        text_field = client.post(VERIFY, data={"file": "not a file"}, files={"other": b"x"})
    assert raw.status_code == 400
    assert raw.json()["error"]["param"] == "file"
    assert raw.json()["error"]["code"] == "invalid_content_type"
    assert text_field.status_code == 400
    assert text_field.json()["error"]["param"] == "file"
    assert _verify(server, None, b"x").status_code == 401


def _creatix(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    settings = server.settings
    return subprocess.run(
        creatix_command(
            *args,
            "--data-dir",
            str(settings.data_dir),
            *(["--database-url", settings.resolved_database_url] if "verify" in args else []),
        ),
        capture_output=True,
        text=True,
        env={**os.environ, "CREATIX_SECRET_KEY": "test-secret"},
        timeout=120,
        check=False,
    )


def test_the_cli_verifies_a_file_and_prints_the_ca(
    server: LiveServer, made: tuple[str, str, bytes], tmp_path: Path
) -> None:
    _, job_id, data = made
    (tmp_path / "ad.png").write_bytes(data)
    (tmp_path / "notes.txt").write_text("not an image", encoding="utf-8")
    verified = _creatix(server, "verify", str(tmp_path / "ad.png"), "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    body = json.loads(verified.stdout)
    assert body["content_credentials"]["trusted"] is True
    assert body["job"]["id"] == job_id  # the operator at a shell sees every job
    human = _creatix(server, "verify", str(tmp_path / "ad.png"))
    assert human.returncode == 0
    assert job_id in human.stdout
    refused = _creatix(server, "verify", str(tmp_path / "notes.txt"))
    assert refused.returncode == 2
    assert refused.stdout.startswith("error: ")
    ca = _creatix(server, "provenance", "ca")
    assert ca.returncode == 0, ca.stdout
    assert server.runtime is not None
    assert ca.stdout.encode() == server.runtime.provenance.identity.trust_anchors_pem
    as_json = json.loads(_creatix(server, "provenance", "ca", "--json").stdout)
    assert as_json == {"pem": ca.stdout, "development": True}


TG = "/api/text_generator"


def _answered_task(server: LiveServer, ask: str) -> tuple[str, dict[str, Any]]:
    """A text generator task of a new account, finished: the account's key and the task."""
    assert server.runtime is not None
    _, secret = server.funded_account(credits=100_000)
    key = server.call(accounts.authenticate(server.runtime.db, secret))
    headers = {"X-API-ID": key.key_id, "X-API-KEY": secret}
    body = {
        "model_name": "gemini-2.5-flash",
        "messages": [{"role": "user", "content": ask}],
    }
    created = httpx.post(f"{server.url}{TG}/", json=body, headers=headers, timeout=60)
    assert created.status_code == 201, created.text
    deadline = time.monotonic() + 60
    while True:
        task: dict[str, Any] = httpx.get(
            f"{server.url}{TG}/{created.json()['id']}/", headers=headers, timeout=60
        ).json()
        if task["status"] == "done":
            return secret, task
        assert task["status"] != "failed", task
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_text_answer_carries_provenance_and_verifies_without_being_altered(
    server: LiveServer,
) -> None:
    secret, task = _answered_task(server, "A tagline for a bakery.")
    copy = task["response_text"]
    provenance = task["provenance"]
    assert provenance["generator"] == "Creatix"
    assert provenance["ai_generated"] is True
    assert provenance["job_id"] == task["id"]
    assert provenance["model"] == "gemini-2.5-flash"
    assert provenance["digest"].startswith("sha256:")
    reflowed = "  " + copy.replace(" ", "  ").replace("\n", "\r\n") + "\n"
    with server.client(secret) as client:
        exact = client.post(VERIFY, json={"text": copy}).json()
        spaced = client.post(VERIFY, json={"text": reflowed}).json()
        edited = client.post(VERIFY, json={"text": copy + " Now 20% off."}).json()
    assert exact["written_here"] is True
    assert exact["job"]["id"] == task["id"]
    assert exact["digest"] == provenance["digest"]
    assert spaced["written_here"] is True
    assert spaced["digest"] == provenance["digest"]
    assert edited == {"digest": edited["digest"], "written_here": False, "job": None}
    with server.client(server.key()) as stranger:
        theirs = stranger.post(VERIFY, json={"text": copy}).json()
    assert theirs["written_here"] is True
    assert theirs["job"] is None


def test_a_text_to_verify_is_checked_like_any_body(server: LiveServer) -> None:
    with server.client(server.key()) as client:
        empty = client.post(VERIFY, json={"text": ""})
        wrong = client.post(VERIFY, json={"text": 3})
        extra = client.post(VERIFY, json={"text": "x", "file": "y"})
    for answer in (empty, wrong):
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["param"] == "text"
    assert extra.status_code == 400
    assert extra.json()["error"]["param"] == "file"


def test_the_cli_verifies_a_text(server: LiveServer, tmp_path: Path) -> None:
    _, task = _answered_task(server, "A tagline for a bicycle shop.")
    (tmp_path / "copy.txt").write_text(task["response_text"], encoding="utf-8")
    verified = _creatix(server, "verify", "--text", str(tmp_path / "copy.txt"), "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["job"]["id"] == task["id"]
