"""Refusals the uploads room shares between its entrances."""

from __future__ import annotations

from creatix.kit.errors import InvalidRequest


def too_large(param: str, max_bytes: int) -> InvalidRequest:
    return InvalidRequest(
        f"The image is larger than {max_bytes // (1024 * 1024)} MB; send at most that much.",
        code="file_too_large",
        param=param,
    )
