"""The security headers of every console response."""

from __future__ import annotations

from urllib.parse import urlsplit

from creatix.config import Settings


def media_origins(settings: Settings) -> str:
    """Where the console may load images and videos from besides itself: the storage's own
    origin when its URLs point elsewhere (an S3-compatible endpoint)."""
    origins = ["'self'", "data:", "blob:"]
    if settings.storage_url:  # s3://bucket/prefix: presigned URLs on the endpoint's host
        endpoint = urlsplit(settings.s3_endpoint_url or "")
        origins.append(f"{endpoint.scheme}://{endpoint.netloc}" if endpoint.netloc else "https:")
    return " ".join(dict.fromkeys(origins))


def security_headers(settings: Settings) -> dict[str, str]:
    """A strict Content-Security-Policy (scripts and styles only from this server, no inline
    script), no framing, no referrer leaving the origin, no MIME sniffing."""
    media = media_origins(settings)
    policy = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {media}",
            f"media-src {media}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
