"""HMAC-signed, expiring download links for the server's own ``/files`` route."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


class UrlSigner:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def signature(self, key: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def sign(self, key: str, expires_in: int) -> tuple[int, str]:
        expires = int(time.time()) + expires_in
        return expires, self.signature(key, expires)

    def verify(self, key: str, expires: int, signature: str) -> bool:
        if expires < time.time():
            return False
        return hmac.compare_digest(self.signature(key, expires), signature)
