"""The storage the settings name: local files, or an S3-compatible bucket (``storage/s3.py``)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from creatix.config import Settings
from creatix.storage.base import Storage
from creatix.storage.local import LocalStorage
from creatix.storage.signing import UrlSigner

# S3's bucket names: 3 to 63 letters, digits, dots and hyphens (and the underscores of old
# buckets), starting and ending with a letter or digit.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")
_FORM = "CREATIX_STORAGE_URL must be s3://bucket or s3://bucket/prefix (unset: local files)"


def parse_storage_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix``; a ``ValueError`` saying what is wrong
    otherwise. The URL itself is not repeated in the message: it may hold a secret."""
    parts = urlsplit(url.strip())
    if parts.scheme != "s3":
        scheme = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ValueError(f"{_FORM}; it has {scheme}")
    if not parts.netloc:
        raise ValueError(f"{_FORM}; it names no bucket")
    if not _BUCKET.fullmatch(parts.netloc):
        raise ValueError(f"{_FORM}; its bucket is not a valid S3 bucket name")
    if parts.query or parts.fragment:
        raise ValueError(f"{_FORM}; it has a query or fragment")
    segments = [segment for segment in parts.path.split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        raise ValueError(f"{_FORM}; its prefix has . or .. segments")
    return parts.netloc, "/".join(segments)


def storage_from_settings(settings: Settings, signer: UrlSigner) -> Storage:
    """Local files under DATA_DIR/files unless ``storage_url`` names a bucket.

    Raises ``ValueError`` for a ``storage_url`` that is not ``s3://bucket[/prefix]`` or one
    of the two S3 credentials without the other, and ``RuntimeError`` when S3 is asked for
    but boto3 (the ``s3`` extra) is not installed. Nothing is sent to S3 here.
    """
    if not settings.storage_url:
        return LocalStorage(settings.files_dir, signer)
    bucket, prefix = parse_storage_url(settings.storage_url)
    key_id, secret = settings.s3_access_key_id, settings.s3_secret_access_key
    if (key_id is None) != (secret is None):
        raise ValueError(
            "set both CREATIX_S3_ACCESS_KEY_ID and CREATIX_S3_SECRET_ACCESS_KEY, or neither "
            "(boto3's default credentials)"
        )
    try:
        from creatix.storage.s3 import S3Storage  # noqa: PLC0415 - boto3 is an optional extra
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            f"CREATIX_STORAGE_URL names an S3 bucket but {exc.name} is not installed: "
            "install Creatix with the s3 extra (pip install 'creatix[s3]')"
        ) from exc
    return S3Storage.connect(
        bucket,
        prefix,
        endpoint_url=settings.s3_endpoint_url or None,
        region=settings.s3_region,
        access_key_id=key_id.get_secret_value() if key_id else None,
        secret_access_key=secret.get_secret_value() if secret else None,
        addressing_style=settings.s3_addressing_style,
    )
