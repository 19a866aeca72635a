"""What the worker does to every output after media: the invisible mark (a payload naming
this server and the job) and, where a signer is configured, a C2PA manifest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from PIL import Image

from creatix.provenance import mark

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
    """This process's provenance identity: the server id its marks carry."""

    server_id: str

    def payload(self, job_id: str) -> bytes:
        return job_payload(self.server_id, job_id)
