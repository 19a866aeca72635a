"""Reading a file's provenance back: its C2PA manifest (present, valid, signed by a trusted
chain, and what it claims) and its invisible mark (present, and the payload).

Pure: no database. The caller (``creatix verify``, ``POST /v1/provenance/verify``) maps a
payload to a job through ``provenance_marks``.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import av
import c2pa
from PIL import Image

from creatix.media.encoding import XMP_KEYWORD
from creatix.media.video import spread_frames
from creatix.provenance import mark
from creatix.provenance.credentials import GENERATION_ASSERTION
from creatix.provenance.xmp import digital_source_type

IMAGE_MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
VIDEO_FRAMES_READ = 6
"""Frames of a video tried for the invisible mark (the first that carries it answers), spread
evenly over its first ``VIDEO_FRAMES_SCANNED``: a re-encode at a low bit rate starves the
first frames of a video most, so they alone say too little."""
VIDEO_FRAMES_SCANNED = 240
"""Frames decoded at most (10 s at 24 fps), whatever the video's length."""
MAX_PIXELS = 8192 * 8192


class UnreadableFile(ValueError):
    """Not a PNG, JPEG, WebP or MP4 that can be decoded whole."""


@dataclass(frozen=True)
class ManifestReport:
    present: bool
    valid: bool = False
    """The manifest is intact and binds this file's content (no tampering)."""
    trusted: bool = False
    """Valid, and signed by a chain that ends at a trusted anchor."""
    state: str | None = None
    """The C2PA library's validation state: Invalid, Valid or Trusted."""
    failures: list[str] = field(default_factory=list)
    """The validation failure codes (e.g. assertion.dataHash.mismatch)."""
    claim_generator: str | None = None
    digital_source_type: str | None = None
    action: str | None = None
    model: str | None = None
    engine: str | None = None
    signer: str | None = None
    development_certificate: bool = False
    ingredients: list[str] = field(default_factory=list)
    """The titles of the inputs the manifest records (a reference image, a video's source)."""


@dataclass(frozen=True)
class FileReport:
    mime_type: str
    width: int
    height: int
    manifest: ManifestReport
    payload: bytes | None
    """The invisible mark's payload, when one is found."""
    xmp_digital_source_type: str | None = None
    """The IPTC DigitalSourceType of the file's XMP metadata (images), when it has one."""


def inspect_file(data: bytes, trust_anchors_pem: bytes) -> FileReport:
    """What ``data`` says about where it came from; ``UnreadableFile`` when it is not an
    image or video this server makes, or is cut short."""
    source_type = None
    if data[4:8] == b"ftyp":
        mime_type, width, height, frames = _video(data)
    else:
        mime_type, picture, xmp = _image(data)
        width, height = picture.size
        frames = [picture]
        source_type = digital_source_type(xmp)
    payload = next((p for p in map(mark.detect, frames) if p is not None), None)
    manifest = read_manifest(data, mime_type, trust_anchors_pem)
    return FileReport(mime_type, width, height, manifest, payload, source_type)


def _xmp(picture: Image.Image) -> bytes | None:
    """The picture's XMP packet: JPEG and WebP readers keep it as ``xmp``, PNG's as the
    ``XML:com.adobe.xmp`` text."""
    found = picture.info.get("xmp") or picture.info.get(XMP_KEYWORD)
    if isinstance(found, str):
        return found.encode("utf-8", "replace")
    return found if isinstance(found, bytes) else None


def _image(data: bytes) -> tuple[str, Image.Image, bytes | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as picture:
                fmt = picture.format or ""
                if fmt not in IMAGE_MIME_TYPES:
                    raise UnreadableFile(f"a {fmt or 'file of unknown type'} is not verified")
                if picture.width * picture.height > MAX_PIXELS:
                    raise UnreadableFile("the picture is larger than 8192x8192")
                picture.load()
                return IMAGE_MIME_TYPES[fmt], picture.convert("RGB"), _xmp(picture)
    except UnreadableFile:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as exc:
        raise UnreadableFile(
            f"not a whole PNG, JPEG, WebP or MP4 file ({exc.__class__.__name__})"
        ) from exc


def _video(data: bytes) -> tuple[str, int, int, list[Image.Image]]:
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise UnreadableFile("the file has no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            decoded = spread_frames(
                container, stream, VIDEO_FRAMES_READ, scan_limit=VIDEO_FRAMES_SCANNED
            )
    except UnreadableFile:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise UnreadableFile(f"not a whole MP4 file ({exc.__class__.__name__})") from exc
    if not decoded:
        raise UnreadableFile("the video has no frames")
    frames = [Image.fromarray(frame.to_ndarray(format="rgb24")) for frame in decoded]
    return "video/mp4", width, height, frames


def read_manifest(data: bytes, mime_type: str, trust_anchors_pem: bytes) -> ManifestReport:
    settings = {
        "verify": {"verify_trust": True},
        "trust": {"trust_anchors": trust_anchors_pem.decode()},
    }
    try:
        with (
            c2pa.Context.from_dict(settings) as context,
            c2pa.Reader(mime_type, io.BytesIO(data), context=context) as reader,
        ):
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "ManifestNotFound" in str(exc):
            return ManifestReport(present=False)
        return ManifestReport(present=True, state="Invalid", failures=[str(exc)])
    active = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    failures = [
        str(item.get("code"))
        for item in (results.get("activeManifest") or {}).get("failure", [])
        if isinstance(item, dict)
    ]
    return ManifestReport(
        present=True,
        valid=state in ("Valid", "Trusted"),
        trusted=state == "Trusted",
        state=state,
        failures=failures,
        **_claims(active),
    )


def _claims(manifest: dict[str, Any]) -> dict[str, Any]:
    generator = (manifest.get("claim_generator_info") or [{}])[0]
    claims: dict[str, Any] = {
        "claim_generator": " ".join(
            str(part) for part in (generator.get("name"), generator.get("version")) if part
        )
        or None,
        "signer": (manifest.get("signature_info") or {}).get("common_name"),
        "ingredients": [
            str(ingredient.get("title")) for ingredient in manifest.get("ingredients") or []
        ],
    }
    for assertion in manifest.get("assertions", []):
        label, data = assertion.get("label", ""), assertion.get("data") or {}
        if label.startswith("c2pa.actions"):
            created = next(
                (a for a in data.get("actions", []) if a.get("action") == "c2pa.created"), None
            )
            if created is not None:
                claims["action"] = "c2pa.created"
                claims["digital_source_type"] = created.get("digitalSourceType")
                parameters = created.get("parameters") or {}
                claims["model"] = parameters.get("model")
                claims["engine"] = parameters.get("engine")
        elif label == GENERATION_ASSERTION:
            claims["development_certificate"] = bool(data.get("development_certificate"))
    return claims
