"""``POST /api/platform/upload`` through a real HTTP client: what is taken, and what is not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from creatix.accounts import service as accounts
from creatix.uploads.models import UploadRow
from creatix.uploads.service import MAX_UPLOAD_BYTES
from support import LiveServer
from upload_samples import (
    EXTENSIONS,
    MIME_TYPES,
    gif_bytes,
    image_bytes,
    photo_jpeg,
    png_bomb,
    truncated,
)

URL = "/api/platform/upload"


class Uploader:
    """A fresh account with a key, and what the server stored for it."""

    def __init__(self, server: LiveServer) -> None:
        assert server.runtime is not None
        self.server = server
        self.secret = server.key()
        self.account_id = server.call(
            accounts.authenticate(server.runtime.db, self.secret)
        ).account_id
        self.client = server.client(self.secret)

    def rows(self) -> list[UploadRow]:
        assert self.server.runtime is not None
        query = select(UploadRow).where(UploadRow.account_id == self.account_id)
        return self.server.call(
            self.server.runtime.db.read(lambda s: list(s.execute(query).scalars()))
        )

    def files(self) -> list[Path]:
        folder = self.server.settings.files_dir / "uploads" / self.account_id
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []

    def assert_nothing_stored(self) -> None:
        assert self.rows() == []
        assert self.files() == []


@pytest.fixture
def uploader(server: LiveServer) -> Iterator[Uploader]:
    account = Uploader(server)
    with account.client:
        yield account


def _multipart(client: httpx.Client, data: bytes, name: str, mime: str) -> httpx.Response:
    return client.post(URL, files={"file": (name, data, mime)})


def _raw(client: httpx.Client, data: bytes, mime: str) -> httpx.Response:
    return client.post(URL, content=data, headers={"Content-Type": mime})


def _error(response: httpx.Response, status: int = 400) -> dict[str, str]:
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    assert set(error) >= {"code", "message"}
    return error


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
@pytest.mark.parametrize("how", ["multipart", "raw"])
def test_an_image_is_stored_as_sent_and_downloads_from_its_public_url(
    uploader: Uploader, fmt: str, how: str
) -> None:
    data = image_bytes(fmt, size=(80, 50))
    client = uploader.client
    if how == "multipart":
        response = _multipart(client, data, f"product.{EXTENSIONS[fmt]}", MIME_TYPES[fmt])
    else:
        response = _raw(client, data, MIME_TYPES[fmt])
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"path", "publicUrl"}
    path = body["path"]
    assert path.startswith(f"uploads/{uploader.account_id}/upl_")
    assert path.endswith(f".{EXTENSIONS[fmt]}")
    assert body["publicUrl"].startswith(uploader.server.url + "/files/")
    assert "signature=" in body["publicUrl"]
    with httpx.Client() as anonymous:
        download = anonymous.get(body["publicUrl"])
    assert download.status_code == 200
    assert download.content == data
    [row] = uploader.rows()
    assert (row.path, row.mime_type, row.size_bytes) == (path, MIME_TYPES[fmt], len(data))
    assert (row.width, row.height) == (80, 50)
    assert uploader.files() == [uploader.server.settings.files_dir / path]


def test_the_public_url_is_signed(uploader: Uploader) -> None:
    response = _raw(uploader.client, image_bytes("png"), "image/png")
    url = response.json()["publicUrl"]
    with httpx.Client() as anonymous:
        assert anonymous.get(url[: url.index("signature=") + 10] + "forged").status_code == 403


@pytest.mark.parametrize("how", ["multipart", "raw"])
def test_a_png_declared_as_jpeg_is_stored_as_the_png_it_is(uploader: Uploader, how: str) -> None:
    data = image_bytes("png")
    if how == "multipart":
        response = _multipart(uploader.client, data, "photo.jpg", "image/jpeg")
    else:
        response = _raw(uploader.client, data, "image/jpeg")
    assert response.status_code == 201, response.text
    assert response.json()["path"].endswith(".png")
    [row] = uploader.rows()
    assert row.mime_type == "image/png"


TOO_LARGE = b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_UPLOAD_BYTES + 1024 * 1024)

REFUSED_UPLOADS = {
    # name: (how, file name or Content-Type, data, code)
    "a GIF in a file named .png": ("multipart", "cat.png", gif_bytes(), "unsupported_image_type"),
    "a GIF sent as image/png": ("raw", "image/png", gif_bytes(), "unsupported_image_type"),
    "a GIF sent as image/gif": ("raw", "image/gif", gif_bytes(), "unsupported_image_type"),
    "text named .png": ("multipart", "notes.png", b"just some text\n", "unsupported_image_type"),
    "text sent as image/png": ("raw", "image/png", b"just some text\n", "unsupported_image_type"),
    "a truncated JPEG": ("multipart", "cut.jpg", truncated(photo_jpeg()), "invalid_image"),
    "a truncated JPEG, raw": ("raw", "image/jpeg", truncated(photo_jpeg(), 0.9), "invalid_image"),
    "a truncated PNG": ("raw", "image/png", truncated(image_bytes("png")), "invalid_image"),
    "a 64-megapixel PNG bomb": ("raw", "image/png", png_bomb(8000, 8000), "image_too_large"),
    "a 2.5-gigapixel PNG bomb": (
        "multipart",
        "bomb.png",
        png_bomb(50000, 50000),
        "image_too_large",
    ),
    "an empty body": ("raw", "image/png", b"", "empty_file"),
    "an empty file": ("multipart", "empty.png", b"", "empty_file"),
    "JSON": ("raw", "application/json", b'{"file": "x"}', "invalid_content_type"),
    "octet-stream": ("raw", "application/octet-stream", image_bytes("png"), "invalid_content_type"),
}


@pytest.mark.parametrize("case", list(REFUSED_UPLOADS))
def test_hostile_uploads_are_a_clear_400_and_store_nothing(uploader: Uploader, case: str) -> None:
    how, name_or_type, data, code = REFUSED_UPLOADS[case]
    if how == "multipart":
        response = _multipart(uploader.client, data, name_or_type, "image/png")
    else:
        response = _raw(uploader.client, data, name_or_type)
    error = _error(response)
    assert error["code"] == code, error
    assert len(error["message"]) > 10
    uploader.assert_nothing_stored()


@pytest.mark.parametrize("how", ["raw", "multipart"])
def test_an_11_mb_upload_is_a_413_and_stores_nothing(uploader: Uploader, how: str) -> None:
    if how == "multipart":
        response = _multipart(uploader.client, TOO_LARGE, "big.png", "image/png")
    else:
        response = _raw(uploader.client, TOO_LARGE, "image/png")
    error = _error(response, 413)
    assert error["code"] == "file_too_large"
    assert error["param"] == "file"
    uploader.assert_nothing_stored()


def test_a_bomb_is_refused_from_its_header_before_any_pixel_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from PIL import ImageFile

    from creatix.kit.errors import InvalidRequest
    from creatix.uploads.images import inspect_image

    def no_decoding(self: object) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for bomb in (png_bomb(8000, 8000), png_bomb(50000, 50000)):
        with pytest.raises(InvalidRequest) as refused:
            inspect_image(bomb, param="file")
        assert refused.value.code == "image_too_large"
        assert "megapixels" in refused.value.message


def test_a_body_without_content_length_is_cut_off_past_the_cap(uploader: Uploader) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"\x89PNG\r\n\x1a\n"
        for _ in range(200):  # 12.5 MB in all
            yield b"\0" * 65536

    response = uploader.client.post(URL, content=chunks(), headers={"Content-Type": "image/png"})
    assert _error(response, 413)["code"] == "file_too_large"
    uploader.assert_nothing_stored()

    def multipart_chunks() -> Iterator[bytes]:
        yield (
            b"--cut\r\n"
            b'Content-Disposition: form-data; name="file"; filename="big.png"\r\n'
            b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n"
        )
        yield from chunks()
        yield b"\r\n--cut--\r\n"

    response = uploader.client.post(
        URL,
        content=multipart_chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=cut"},
    )
    assert _error(response, 413)["code"] == "file_too_large"
    uploader.assert_nothing_stored()


def test_the_image_must_be_in_the_file_field(uploader: Uploader) -> None:
    response = uploader.client.post(
        URL, files={"image": ("a.png", image_bytes("png"), "image/png")}
    )
    error = _error(response)
    assert error["code"] == "missing_parameter"
    assert "'file'" in error["message"]
    response = uploader.client.post(URL, data={"file": "not a file"}, files={"x": ("a", b"")})
    assert "'file'" in _error(response)["message"]
    uploader.assert_nothing_stored()


def test_a_malformed_multipart_body_is_a_400(uploader: Uploader) -> None:
    no_boundary = _raw(uploader.client, b"--x\r\n", "multipart/form-data")
    assert _error(no_boundary)["code"] == "invalid_multipart"
    two_files = uploader.client.post(
        URL,
        files=[
            ("file", ("a.png", image_bytes("png"), "image/png")),
            ("file", ("b.png", image_bytes("png"), "image/png")),
        ],
    )
    assert _error(two_files)["code"] == "invalid_multipart"
    uploader.assert_nothing_stored()


def test_uploading_needs_a_valid_key(server: LiveServer) -> None:
    with server.client() as anonymous:
        error = _error(_raw(anonymous, image_bytes("png"), "image/png"), 401)
        assert error["code"] == "invalid_api_key"
    with server.client("sk_live_" + "x" * 40) as stranger:
        assert _error(_raw(stranger, image_bytes("png"), "image/png"), 401)
    assert server.runtime is not None
    count = server.call(
        server.runtime.db.read(
            lambda s: s.execute(select(func.count()).select_from(UploadRow)).scalar_one()
        )
    )
    files_dir = server.settings.files_dir / "uploads"
    on_disk = len([p for p in files_dir.rglob("*") if p.is_file()]) if files_dir.exists() else 0
    assert on_disk == count  # every stored file has its row, and no anonymous file was kept
