"""Settings, read from ``CREATIX_*`` environment variables and CLI flags."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREATIX_", extra="ignore")

    data_dir: Path = Path("creatix-data")
    database_url: str | None = Field(
        default=None, description="Defaults to SQLite at DATA_DIR/creatix.db"
    )
    catalog: Path | None = Field(
        default=None, description="A catalog YAML replacing the shipped one"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    run_worker: bool = True
    workers: int | None = Field(
        default=None,
        description="serve's API processes (--workers); unset: one per core, at most 8",
    )
    public_url: str | None = Field(
        default=None, description="Base of file URLs; defaults to the URL a request came in on"
    )
    trusted_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host header values the API answers (comma-separated, '*.example.com' "
        "allowed; others get a 400); unset: any Host, which file links then follow",
    )
    secret_key: str | None = Field(
        default=None, description="Signs file URLs; generated once into DATA_DIR when unset"
    )
    server_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{6}$",
        description="Six hex digits naming this server in the invisible mark of its outputs; "
        "generated once into DATA_DIR when unset (give every node of a cluster the same)",
    )
    c2pa_cert: Path | None = Field(
        default=None,
        description="PEM chain (signing certificate first) for C2PA manifests; unset: a "
        "development CA and certificate are created in DATA_DIR/c2pa",
    )
    c2pa_key: Path | None = Field(
        default=None, description="PEM private key of CREATIX_C2PA_CERT's signing certificate"
    )
    c2pa_tsa_url: str | None = Field(
        default=None, description="An RFC 3161 time-stamp authority for C2PA signatures"
    )
    c2pa_trust_anchors: Path | None = Field(
        default=None,
        description="PEM certificates that verification trusts besides this server's own CA",
    )
    log_level: str = "INFO"

    file_url_ttl_seconds: int = 3600
    sync_timeout_seconds: float = 300.0
    lease_seconds: float = 30.0
    poll_interval_seconds: float = 1.0
    max_attempts: int = 3
    worker_concurrency: int = 2
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counters live; CREATIX_REDIS_URL sets it to that Redis",
    )
    redis_url: str | None = Field(
        default=None, description="Redis shared by all API nodes (rate-limit counters)"
    )
    orphan_sweep_interval_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How often each worker process deletes stored outputs no row names; 0: never",
    )
    orphan_grace_seconds: float = Field(
        default=3600.0,
        ge=600,
        description="How old an output no row names must be before the sweeper deletes it",
    )
    drain_seconds: float = Field(
        default=30.0, description="On SIGTERM: how long running jobs and requests may finish"
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Let webhooks and image URLs reach private, loopback and link-local hosts",
    )
    max_json_body_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="The largest request body a JSON route takes; a larger one is a 413",
    )
    max_upload_body_bytes: int = Field(
        default=10 * 1024 * 1024 + 64 * 1024,
        gt=0,
        description="The largest body POST /api/platform/upload takes: a 10 MB image and "
        "its multipart framing; a larger one is a 413",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins browsers may call the API from (CORS), comma-separated or a JSON "
        "list; * for any; unset: no CORS headers",
    )
    webhook_concurrency: int = Field(
        default=16, ge=1, description="Webhook deliveries one deliverer process makes at once"
    )
    webhook_account_concurrency: int = Field(
        default=4,
        ge=1,
        description="Of those, how many one account's deliveries may take (its slow or dead "
        "receivers cannot hold up other accounts' webhooks)",
    )
    webhook_timeout_seconds: float = Field(
        default=15.0, gt=0, description="How long one webhook attempt may take"
    )
    session_idle_seconds: int = Field(
        default=12 * 3600,
        gt=0,
        description="A signed-in session unused this long is over (the person signs in again)",
    )
    session_absolute_seconds: int = Field(
        default=7 * 24 * 3600,
        gt=0,
        description="A signed-in session is over this long after sign-in, however much used",
    )
    invitation_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        gt=0,
        description="How long an invitation's one-time set-password token may be used",
    )
    password_reset_ttl_seconds: int = Field(
        default=24 * 3600,
        gt=0,
        description="How long a password reset's one-time token may be used",
    )
    signin_attempts_per_email: int = Field(
        default=10,
        gt=0,
        description="Sign-in attempts one email may have in CREATIX_SIGNIN_WINDOW_SECONDS",
    )
    signin_attempts_per_address: int = Field(
        default=50,
        gt=0,
        description="Sign-in attempts one client address may make in the window",
    )
    signin_window_seconds: int = Field(
        default=15 * 60, gt=0, description="The window sign-in attempts are counted in"
    )
    metrics_enabled: bool = Field(
        default=True,
        description="Serve Prometheus metrics at /metrics, without auth: keep it internal",
    )

    # Storage: local files, or one S3-compatible bucket shared by every node.
    storage_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix: outputs in that bucket; unset: files in DATA_DIR/files",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="The S3-compatible server (MinIO, R2, ...); unset: AWS"
    )
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = Field(
        default=None, description="With the secret; both unset: boto3's default credentials"
    )
    s3_secret_access_key: SecretStr | None = None
    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto", description="path: endpoint/bucket/key (MinIO); virtual: bucket.host"
    )

    # Upstream providers: each one's key and API root (overridable per engine in the catalog).
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    fal_key: SecretStr | None = None
    fal_base_url: str = "https://queue.fal.run"
    replicate_api_token: SecretStr | None = None
    replicate_base_url: str = "https://api.replicate.com/v1"
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str = "https://generativelanguage.googleapis.com/v1beta"

    # The content policy's moderation engine: any OpenAI-compatible /v1/moderations.
    moderation_base_url: str | None = Field(
        default=None,
        description="API root of the moderation endpoint (e.g. https://api.openai.com/v1); "
        "unset: policies' moderation is not run",
    )
    moderation_api_key: SecretStr | None = None

    @field_validator("trusted_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated_or_json(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value.strip().startswith("["):
            return json.loads(value)
        return [origin.strip() for origin in value.split(",") if origin.strip()]

    def provider_access(self) -> dict[str, tuple[str, str | None]]:
        """Each provider's (base URL, key), for the engines that call them."""
        pairs = {
            "openai": (self.openai_base_url, self.openai_api_key),
            "fal": (self.fal_base_url, self.fal_key),
            "replicate": (self.replicate_base_url, self.replicate_api_token),
            "gemini": (self.gemini_base_url, self.gemini_api_key),
        }
        return {
            name: (url, key.get_secret_value() if key else None)
            for name, (url, key) in pairs.items()
        }

    @property
    def rate_limiter_uri(self) -> str:
        return self.redis_url or self.rate_limit_storage

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'creatix.db'}"

    @property
    def base_url(self) -> str:
        """Where clients reach this server, for links made outside a request (webhooks)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def models_dir(self) -> Path:
        """The model cache: where ``creatix models pull`` puts weights and engines find them
        when the catalog names no ``models_dir`` of its own."""
        return self.data_dir / "models"

    def resolved_server_id(self) -> str:
        """The configured server id, else one generated on first use and kept in the data
        dir."""
        if self.server_id:
            return self.server_id
        path = self.data_dir / "server-id"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(3))
        return path.read_text().strip()

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated on first use and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()
