"""C2PA manifests: signed with the development CA or the operator's chain, read back and
validated with c2pa-python against the server's CA; tampering is caught; bad settings fail
loudly, naming the setting."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from creatix.provenance.credentials import (
    COMPOSITE,
    TRAINED,
    Claims,
    ContentSigner,
    CredentialsError,
    Ingredient,
    development_identity,
    image_mime_type,
    load_identity,
)
from creatix.provenance.verify import UnreadableFile, inspect_file, read_manifest
from tampering import png_with_one_pixel_changed

CLAIMS = Claims(title="image.png", model="creatix-flash", engine="preview")


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> ContentSigner:
    return ContentSigner(development_identity(tmp_path_factory.mktemp("c2pa")))


def _encoded(fmt: str, size: tuple[int, int] = (256, 192)) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_a_signed_image_reads_back_trusted_with_its_claims(
    signer: ContentSigner, fmt: str, mime: str
) -> None:
    signed = signer.sign_bytes(_encoded(fmt), mime, CLAIMS)
    assert Image.open(io.BytesIO(signed)).format == fmt, "still the same kind of file"
    report = read_manifest(signed, mime, signer.identity.trust_anchors_pem)
    assert report.present, report
    assert report.valid, report
    assert report.trusted, report
    assert report.state == "Trusted"
    assert report.claim_generator is not None
    assert report.claim_generator.startswith("Creatix ")
    assert report.action == "c2pa.created"
    assert report.digital_source_type == TRAINED
    assert (report.model, report.engine) == ("creatix-flash", "preview")
    assert report.development_certificate is True


def test_another_ca_does_not_trust_it(signer: ContentSigner, tmp_path: Path) -> None:
    other = development_identity(tmp_path / "other")
    signed = signer.sign_bytes(_encoded("PNG"), "image/png", CLAIMS)
    report = read_manifest(signed, "image/png", other.trust_anchors_pem)
    assert report.present
    assert report.valid
    assert not report.trusted


def test_an_input_image_makes_it_a_composite(signer: ContentSigner) -> None:
    claims = Claims(title="x.jpg", model="creatix-pro", engine="preview", composite=True)
    signed = signer.sign_bytes(_encoded("JPEG"), "image/jpeg", claims)
    report = read_manifest(signed, "image/jpeg", signer.identity.trust_anchors_pem)
    assert report.digital_source_type == COMPOSITE


def test_one_changed_pixel_fails_validation(signer: ContentSigner) -> None:
    signed = signer.sign_bytes(_encoded("PNG"), "image/png", CLAIMS)
    tampered = png_with_one_pixel_changed(signed)
    before = Image.open(io.BytesIO(signed)).convert("RGB")
    after = Image.open(io.BytesIO(tampered)).convert("RGB")
    assert before.getpixel((10, 0)) != after.getpixel((10, 0))
    report = read_manifest(tampered, "image/png", signer.identity.trust_anchors_pem)
    assert report.present, report
    assert not report.valid, report
    assert not report.trusted, report
    assert report.state == "Invalid"
    assert any("hash" in failure.lower() for failure in report.failures), report.failures


def test_an_unsigned_file_has_no_manifest(signer: ContentSigner) -> None:
    report = inspect_file(_encoded("PNG"), signer.identity.trust_anchors_pem)
    assert report.manifest.present is False
    assert report.payload is None


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, not an image", _encoded("PNG")[:200], _encoded("JPEG")[:300]],
    ids=["empty", "text", "truncated-png", "truncated-jpeg"],
)
def test_what_is_not_a_whole_image_is_refused(signer: ContentSigner, data: bytes) -> None:
    with pytest.raises(UnreadableFile):
        inspect_file(data, signer.identity.trust_anchors_pem)


def test_the_development_identity_is_made_once_and_kept(tmp_path: Path) -> None:
    first = development_identity(tmp_path)
    assert development_identity(tmp_path) == first
    assert b"BEGIN CERTIFICATE" in first.trust_anchors_pem
    assert first.chain_pem.count(b"BEGIN CERTIFICATE") == 2, "signer, then the CA"
    assert oct((tmp_path / "signer.key").stat().st_mode & 0o777) == "0o600"


def test_a_configured_chain_signs_and_is_trusted(tmp_path: Path) -> None:
    made = development_identity(tmp_path / "made")
    identity = load_identity(
        tmp_path / "made" / "signer.pem", tmp_path / "made" / "signer.key", None, tmp_path
    )
    assert not identity.development
    assert identity.trust_anchors_pem.strip() == made.trust_anchors_pem.strip()
    signed = ContentSigner(identity).sign_bytes(_encoded("PNG"), "image/png", CLAIMS)
    assert read_manifest(signed, "image/png", identity.trust_anchors_pem).trusted


@pytest.mark.parametrize(
    ("cert", "key", "named"),
    [
        ("missing.pem", "signer.key", "CREATIX_C2PA_CERT"),
        ("signer.pem", "missing.key", "CREATIX_C2PA_KEY"),
        ("signer.key", "signer.key", "CREATIX_C2PA_CERT"),  # a key where the chain goes
        ("signer.pem", "ca.pem", "CREATIX_C2PA_KEY"),  # a certificate where the key goes
        ("signer.pem", "ca.key", "CREATIX_C2PA_KEY"),  # the wrong key
        (None, "signer.key", "CREATIX_C2PA_CERT"),
        ("signer.pem", None, "CREATIX_C2PA_KEY"),
    ],
)
def test_a_bad_configured_identity_names_the_setting(
    tmp_path: Path, cert: str | None, key: str | None, named: str
) -> None:
    development_identity(tmp_path)
    with pytest.raises(CredentialsError, match=named):
        load_identity(
            tmp_path / cert if cert else None, tmp_path / key if key else None, None, tmp_path
        )


def test_an_input_image_is_recorded_as_an_ingredient(signer: ContentSigner) -> None:
    reference = Ingredient(_encoded("JPEG", (64, 64)), "image/jpeg", "reference.jpg")
    claims = Claims(
        title="out.png", model="creatix-pro", engine="preview", composite=True, ingredient=reference
    )
    signed = signer.sign_bytes(_encoded("PNG"), "image/png", claims)
    report = read_manifest(signed, "image/png", signer.identity.trust_anchors_pem)
    assert report.trusted, report
    assert report.digital_source_type == COMPOSITE
    assert report.ingredients == ["reference.jpg"]
    plain = read_manifest(
        signer.sign_bytes(_encoded("PNG"), "image/png", CLAIMS),
        "image/png",
        signer.identity.trust_anchors_pem,
    )
    assert plain.ingredients == []


@pytest.mark.parametrize(
    ("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_the_mime_type_of_an_input_is_sniffed(fmt: str, mime: str) -> None:
    assert image_mime_type(_encoded(fmt, (32, 32))) == mime
    assert image_mime_type(b"GIF89a...") == "application/octet-stream"
