"""What the worker does to every output after media: the invisible mark (a payload naming
this server and the job) and a signed C2PA manifest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from creatix.provenance import mark
from creatix.provenance.credentials import (
    Claims,
    ContentSigner,
    SigningIdentity,
    load_identity,
    read_trust_anchors,
)

SERVER_ID_BYTES = 3
JOB_HASH_BYTES = mark.PAYLOAD_BYTES - SERVER_ID_BYTES


def job_payload(server_id: str, job_id: str) -> bytes:
    """The 8-byte payload of ``job_id``'s outputs: this server's 3-byte id, then the first 5
    bytes of SHA-256 of the job id (the ``provenance_marks`` table maps it back)."""
    server = bytes.fromhex(server_id)
    if len(server) != SERVER_ID_BYTES:
        raise ValueError(f"a server id is {SERVER_ID_BYTES * 2} hex digits, not {server_id!r}")
    return server + hashlib.sha256(job_id.encode()).digest()[:JOB_HASH_BYTES]


def embed_in_place(image: Image.Image, payload: bytes) -> bool:
    """Mark the RGB ``image`` itself with ``payload``; False (and unchanged) when it is too
    small to carry a mark (a side under ``mark.MIN_SIDE``)."""
    if min(image.size) < mark.MIN_SIDE:
        return False
    image.paste(mark.embed(image, payload))
    return True


@dataclass(frozen=True)
class OutputProvenance:
    """This process's provenance identity: the server id its marks carry, and the signer of
    its outputs' content credentials."""

    server_id: str
    signer: ContentSigner
    extra_trust_anchors_pem: bytes = b""
    """Other chains' anchors verification trusts (``CREATIX_C2PA_TRUST_ANCHORS``)."""

    @classmethod
    def load(
        cls,
        server_id: str,
        data_dir: Path,
        *,
        cert: Path | None = None,
        key: Path | None = None,
        tsa_url: str | None = None,
        trust_anchors: Path | None = None,
    ) -> OutputProvenance:
        """The configured signing identity, else the development one, and the anchors
        verification trusts besides its own (``CredentialsError`` naming the setting when
        they cannot be used)."""
        extra = b"" if trust_anchors is None else read_trust_anchors(trust_anchors)
        return cls(server_id, ContentSigner(load_identity(cert, key, tsa_url, data_dir)), extra)

    @property
    def identity(self) -> SigningIdentity:
        return self.signer.identity

    @property
    def trust_anchors_pem(self) -> bytes:
        """What verification trusts: this server's own anchor and the configured ones."""
        own = self.identity.trust_anchors_pem
        return (
            own if not self.extra_trust_anchors_pem else own + b"\n" + self.extra_trust_anchors_pem
        )

    def payload(self, job_id: str) -> bytes:
        return job_payload(self.server_id, job_id)

    def signed_image(self, data: bytes, mime_type: str, claims: Claims) -> bytes:
        """An encoded image (PNG, JPEG, WebP) with its manifest embedded."""
        return self.signer.sign_bytes(data, mime_type, claims)

    def signed_video(self, source: Path, claims: Claims) -> Path:
        """A copy of the MP4 ``source`` with its manifest embedded, beside it; ``source`` is
        removed."""
        target = source.with_name(f"signed-{source.name}")
        self.signer.sign_file(source, target, "video/mp4", claims)
        source.unlink(missing_ok=True)
        return target

    def close(self) -> None:
        self.signer.close()
