"""C2PA content credentials: the signing identity, and a signed manifest on every output.

The identity is the operator's (``CREATIX_C2PA_CERT``: a PEM chain, signing certificate
first; ``CREATIX_C2PA_KEY``: its private key; optional ``CREATIX_C2PA_TSA_URL``), or, when
neither is set, a development CA and an end-entity certificate it issued, created once in
``DATA_DIR/c2pa`` (C2PA verifiers reject a self-signed leaf). A configured file that is
missing or unreadable stops the start with an error naming the setting: outputs are never
silently unsigned.

Manifests are written by the C2PA project's own library (``c2pa-python``): claim generator
"Creatix" and its version, a ``c2pa.created`` action whose ``digitalSourceType`` is
``trainedAlgorithmicMedia`` (``compositeWithTrainedAlgorithmicMedia`` when an input image was
used), and the model and engine.
"""

from __future__ import annotations

import datetime
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from creatix import __version__

CLAIM_GENERATOR = "Creatix"
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC + "trainedAlgorithmicMedia"
COMPOSITE = IPTC + "compositeWithTrainedAlgorithmicMedia"
GENERATION_ASSERTION = "com.creatix.generation"
DEVELOPMENT_FOLDER = "c2pa"
SIGNABLE_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "video/mp4"})
_NO_THUMBNAIL: dict[str, Any] = {"builder": {"thumbnail": {"enabled": False}}}


class CredentialsError(Exception):
    """The signing identity cannot be used; the message names the setting to fix."""


@dataclass(frozen=True)
class SigningIdentity:
    chain_pem: bytes
    """The signing certificate first, then its issuers."""
    key_pem: bytes
    trust_anchors_pem: bytes
    """What verification trusts: the development CA, or the configured chain's last
    certificate."""
    tsa_url: str | None = None
    development: bool = False


@dataclass(frozen=True)
class Ingredient:
    """An input the output was made from (a reference image, the image a video animates)."""

    data: bytes
    mime_type: str
    title: str


@dataclass(frozen=True)
class Claims:
    """What a manifest says about one output."""

    title: str
    model: str
    engine: str
    composite: bool = False
    """An input image (a reference, a source generation) went into it."""
    ingredient: Ingredient | None = None
    """That input, recorded in the manifest as an ingredient (``inputTo``)."""


def load_identity(
    cert: Path | None, key: Path | None, tsa_url: str | None, data_dir: Path
) -> SigningIdentity:
    """The configured identity, else the development one (created on first use)."""
    if cert is None and key is None:
        return development_identity(data_dir / DEVELOPMENT_FOLDER, tsa_url)
    if cert is None or key is None:
        missing = "CREATIX_C2PA_CERT" if cert is None else "CREATIX_C2PA_KEY"
        raise CredentialsError(
            f"{missing} is not set: CREATIX_C2PA_CERT and CREATIX_C2PA_KEY go together "
            "(set both, or neither for a development certificate)"
        )
    chain_pem = _read(cert, "CREATIX_C2PA_CERT")
    key_pem = _read(key, "CREATIX_C2PA_KEY")
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise CredentialsError(f"CREATIX_C2PA_CERT ({cert}) is not a PEM chain: {exc}") from exc
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CredentialsError(f"CREATIX_C2PA_KEY ({key}) is not a PEM private key") from exc
    if private.public_key() != chain[0].public_key():
        raise CredentialsError(
            f"CREATIX_C2PA_KEY ({key}) is not the key of CREATIX_C2PA_CERT's first certificate"
        )
    anchor = chain[-1].public_bytes(serialization.Encoding.PEM)
    return SigningIdentity(chain_pem, key_pem, anchor, tsa_url=tsa_url)


def read_trust_anchors(path: Path) -> bytes:
    """The PEM certificates of ``CREATIX_C2PA_TRUST_ANCHORS``, checked to be some."""
    pem = _read(path, "CREATIX_C2PA_TRUST_ANCHORS")
    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise CredentialsError(
            f"CREATIX_C2PA_TRUST_ANCHORS ({path}) is not PEM certificates: {exc}"
        ) from exc
    return pem


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CredentialsError(f"{setting} ({path}) cannot be read: {exc.strerror}") from exc


def development_identity(folder: Path, tsa_url: str | None = None) -> SigningIdentity:
    """The development CA and signing certificate in ``folder``, created when absent."""
    ca_path, chain_path, key_path = folder / "ca.pem", folder / "signer.pem", folder / "signer.key"
    if not (ca_path.exists() and chain_path.exists() and key_path.exists()):
        _create_development(folder)
    return SigningIdentity(
        chain_path.read_bytes(),
        key_path.read_bytes(),
        ca_path.read_bytes(),
        tsa_url=tsa_url,
        development=True,
    )


def _create_development(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Creatix development CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Creatix (development)"),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "Creatix development signer"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Creatix (development)"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def pem(certificate: x509.Certificate) -> bytes:
        return certificate.public_bytes(serialization.Encoding.PEM)

    def private(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    for name, data, mode in (
        ("ca.key", private(ca_key), 0o600),
        ("signer.key", private(signer_key), 0o600),
        ("signer.pem", pem(signer) + pem(ca), 0o644),
        ("ca.pem", pem(ca), 0o644),  # last: its presence says the set is complete
    ):
        path = folder / name
        path.write_bytes(data)
        path.chmod(mode)


def _key_usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not sign,
        crl_sign=not sign,
        encipher_only=False,
        decipher_only=False,
    )


_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


def image_mime_type(data: bytes) -> str:
    """The MIME type of an encoded PNG, JPEG or WebP (what uploads and outputs are)."""
    for magic, mime_type in _MAGIC:
        if data.startswith(magic):
            return mime_type
    return "image/webp" if data[8:12] == b"WEBP" else "application/octet-stream"


def _add_ingredient(builder: c2pa.Builder, claims: Claims) -> None:
    ingredient = claims.ingredient
    if ingredient is not None:
        definition = {"title": ingredient.title, "relationship": "inputTo"}
        builder.add_ingredient(definition, ingredient.mime_type, io.BytesIO(ingredient.data))


class ContentSigner:
    """Signs manifests into outputs with one identity (thread-safe)."""

    def __init__(self, identity: SigningIdentity) -> None:
        self.identity = identity
        self._lock = threading.Lock()
        info = c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ES256,
            identity.chain_pem,
            identity.key_pem,
            identity.tsa_url.encode() if identity.tsa_url else None,
        )
        try:
            self._signer = c2pa.Signer.from_info(info)
        except c2pa.C2paError as exc:
            raise CredentialsError(
                f"CREATIX_C2PA_CERT / CREATIX_C2PA_KEY cannot sign (ES256, P-256 keys): {exc}"
            ) from exc
        self._context = c2pa.Context.from_dict(_NO_THUMBNAIL)

    def manifest(self, claims: Claims) -> dict[str, Any]:
        parameters: dict[str, Any] = {"model": claims.model, "engine": claims.engine}
        generation: dict[str, Any] = {"model": claims.model, "engine": claims.engine}
        if self.identity.development:
            generation["development_certificate"] = True
        return {
            "claim_generator_info": [{"name": CLAIM_GENERATOR, "version": __version__}],
            "title": claims.title,
            "assertions": [
                {
                    "label": "c2pa.actions",
                    "data": {
                        "actions": [
                            {
                                "action": "c2pa.created",
                                "digitalSourceType": COMPOSITE if claims.composite else TRAINED,
                                "softwareAgent": {
                                    "name": CLAIM_GENERATOR,
                                    "version": __version__,
                                },
                                "parameters": parameters,
                            }
                        ]
                    },
                },
                {"label": GENERATION_ASSERTION, "data": generation},
            ],
        }

    def sign_bytes(self, data: bytes, mime_type: str, claims: Claims) -> bytes:
        """``data`` (a PNG, JPEG or WebP) with a signed manifest embedded."""
        target = io.BytesIO()
        with self._lock, c2pa.Builder(self.manifest(claims), context=self._context) as builder:
            _add_ingredient(builder, claims)
            builder.sign(self._signer, mime_type, io.BytesIO(data), target)
        return target.getvalue()

    def sign_file(self, source: Path, target: Path, mime_type: str, claims: Claims) -> None:
        """Write ``source`` (an MP4, say) to ``target`` with a signed manifest embedded."""
        with (
            source.open("rb") as reading,
            target.open("w+b") as writing,
            self._lock,
            c2pa.Builder(self.manifest(claims), context=self._context) as builder,
        ):
            _add_ingredient(builder, claims)
            builder.sign(self._signer, mime_type, reading, writing)

    def close(self) -> None:
        self._signer.close()
        self._context.close()
