"""HMAC-signed, expiring download links for the server's own ``/files`` route."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

ROUNDING = 60


class UrlSigner:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def signature(self, key: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def sign(self, key: str, expires_in: int) -> tuple[int, str]:
        """An expiry ``expires_in`` seconds away and its signature. Lifetimes of ten minutes
        or more are rounded down to the minute: links to one file made within a minute are
        then the same link, so pollers and caches see a stable URL."""
        step = ROUNDING if expires_in >= 10 * ROUNDING else 1
        expires = (int(time.time()) + expires_in) // step * step
        return expires, self.signature(key, expires)

    def verify(self, key: str, expires: int, signature: str) -> bool:
        """Whether ``signature`` signs ``key`` until ``expires``, which has not passed.
        Compared as bytes: ``compare_digest`` refuses a non-ASCII ``str`` with a TypeError."""
        if expires < time.time():
            return False
        given = signature.encode("utf-8", "surrogatepass")
        return hmac.compare_digest(self.signature(key, expires).encode(), given)
