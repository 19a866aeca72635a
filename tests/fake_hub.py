"""A Hugging Face hub on a loopback port, serving folders as model repositories.

Enough of the hub's HTTP API for ``huggingface_hub`` (2.x) to download a snapshot as it does
from huggingface.co: point it here with ``HF_ENDPOINT=hub.url`` (read when huggingface_hub is
imported, so in a subprocess). It serves

- ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}``: the repository's info
  (``sha``, ``siblings``), as ``model_info`` and ``repo_info`` read it;
- ``GET /api/models/{repo}/tree/{rev}``: the file listing (``list_repo_tree``);
- ``HEAD`` and ``GET /{repo}/resolve/{rev}/{path}``: a file, with the ``X-Repo-Commit``,
  ``ETag`` and ``Content-Length`` headers ``hf_hub_download`` checks.

A repository has one commit, ``main``. Errors carry the hub's ``X-Error-Code`` header, which is
how ``huggingface_hub`` tells them apart: an unknown repository is a 404 ``RepoNotFound``, a
gated one answers its files with a 403 ``GatedRepo`` unless the request carries the hub's
token, and a file marked broken is listed but answers 404 ``EntryNotFound``. Every request is
recorded in ``requests``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

REVISION = "main"
REPO = r"(?P<repo>[^/]+/[^/]+)"
INFO = re.compile(rf"^/api/models/{REPO}(?:/revision/(?P<rev>[^/]+))?$")
TREE = re.compile(rf"^/api/models/{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$")
RESOLVE = re.compile(rf"^/{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


@dataclass
class Repo:
    files: dict[str, bytes]
    gated: bool = False
    broken: set[str] = field(default_factory=set)

    @property
    def sha(self) -> str:
        """The commit: a digest of every file's path and content."""
        digest = hashlib.sha1()
        for path in sorted(self.files):
            digest.update(path.encode() + b"\0" + hashlib.sha256(self.files[path]).digest())
        return digest.hexdigest()


def _read_folder(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    """``with FakeHub() as hub: hub.add("org/name", folder)``; ``hub.url`` is the endpoint."""

    def __init__(self, token: str = "hf_test_token") -> None:
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        """(method, path) of every request, in order."""
        self._lock = threading.Lock()
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(
        self, repo_id: str, folder: Path, *, gated: bool = False, broken: set[str] | None = None
    ) -> Repo:
        """Serve ``folder``'s files (read now) as the repository ``repo_id``."""
        repo = Repo(_read_folder(folder), gated=gated, broken=set(broken or ()))
        self.repos[repo_id] = repo
        return repo

    def start(self) -> FakeHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))

    def requested(self, method: str | None = None) -> Iterator[str]:
        """The paths requested (with ``method`` only, when given)."""
        with self._lock:
            seen = list(self.requests)
        return (path for m, path in seen if method is None or m == method)


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    server_version = "FakeHub/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._route(body=True)

    def do_HEAD(self) -> None:
        self._route(body=False)

    # -- routing ---------------------------------------------------------------------------

    def _route(self, *, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        self.hub.record(self.command, path)
        if match := RESOLVE.match(path):
            self._resolve(match["repo"], match["rev"], match["path"], body=body)
        elif match := TREE.match(path):
            self._tree(match["repo"], match["rev"], match["path"] or "")
        elif match := INFO.match(path):
            self._info(match["repo"], match["rev"])
        else:
            self._error(HTTPStatus.NOT_FOUND, None, f"no route for {path}")

    def _repo(self, repo_id: str, revision: str | None) -> Repo | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(HTTPStatus.NOT_FOUND, "RepoNotFound", "Repository not found")
            return None
        if revision not in (None, REVISION, repo.sha):
            self._error(HTTPStatus.NOT_FOUND, "RevisionNotFound", "Invalid rev id")
            return None
        return repo

    def _info(self, repo_id: str, revision: str | None) -> None:
        repo = self._repo(repo_id, revision)
        if repo is None:
            return
        self._json(
            {
                "_id": repo.sha[:24],
                "id": repo_id,
                "modelId": repo_id,
                "sha": repo.sha,
                "private": False,
                "gated": "manual" if repo.gated else False,
                "disabled": False,
                "library_name": "diffusers",
                "tags": ["diffusers", "safetensors"],
                "lastModified": "2024-01-01T00:00:00.000Z",
                "createdAt": "2024-01-01T00:00:00.000Z",
                "siblings": [{"rfilename": name} for name in sorted(repo.files)],
            }
        )

    def _tree(self, repo_id: str, revision: str, under: str) -> None:
        repo = self._repo(repo_id, revision)
        if repo is None:
            return
        prefix = f"{under.strip('/')}/" if under else ""
        entries = [
            {"type": "file", "path": name, "size": len(data), "oid": _git_blob_id(data)}
            for name, data in sorted(repo.files.items())
            if name.startswith(prefix)
        ]
        self._json(entries)

    def _resolve(self, repo_id: str, revision: str, name: str, *, body: bool) -> None:
        repo = self._repo(repo_id, revision)
        if repo is None:
            return
        commit = {"X-Repo-Commit": repo.sha}
        if repo.gated and self.headers.get("Authorization") != f"Bearer {self.hub.token}":
            message = "Access to this model is restricted: you must be authenticated"
            self._error(HTTPStatus.FORBIDDEN, "GatedRepo", message, commit)
            return
        data = repo.files.get(name)
        if data is None or name in repo.broken:
            self._error(HTTPStatus.NOT_FOUND, "EntryNotFound", "Entry not found", commit)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("X-Repo-Commit", repo.sha)
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if body:
            self.wfile.write(data)

    # -- answers ---------------------------------------------------------------------------

    def _json(self, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(
        self,
        status: HTTPStatus,
        code: str | None,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Error-Message", message)
        if code is not None:
            self.send_header("X-Error-Code", code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def hub_env(tmp_path: Path, endpoint: str, **extra: str) -> dict[str, str]:
    """This process's environment for a ``creatix`` subprocess that talks to the hub at
    ``endpoint``: no Hugging Face settings of the machine's, its own HF home and data dir."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HF_", "HUGGING_FACE_")) and key != "CREATIX_CATALOG"
    }
    return {
        **env,
        "HF_ENDPOINT": endpoint,
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
        "CREATIX_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "250",
        **extra,
    }
