"""What verification answers, on the wire (``POST /v1/provenance/verify``) and from
``creatix verify --json``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from creatix.provenance.verification import TextVerification, Verification


class ContentCredentials(BaseModel):
    present: bool = Field(description="The file carries a C2PA manifest.")
    valid: bool = Field(description="The manifest is intact and matches the file's content.")
    trusted: bool = Field(
        description="Valid, and signed by a chain ending at this server's CA or a configured "
        "trust anchor."
    )
    state: str | None = Field(description="The C2PA validation state: Invalid, Valid, Trusted.")
    failures: list[str] = Field(description="The C2PA validation failure codes.")
    claim_generator: str | None
    action: str | None
    digital_source_type: str | None
    model: str | None
    engine: str | None
    signer: str | None = Field(description="The signing certificate's common name.")
    development_certificate: bool
    ingredients: list[str] = Field(
        description="The inputs the output was made from (a reference image, a video's source)."
    )


class InvisibleMark(BaseModel):
    present: bool
    payload: str | None = Field(description="The mark's 8 bytes, in hex.")
    this_server: bool = Field(description="The mark names this server.")


class MarkedJobInfo(BaseModel):
    id: str
    model: str
    created_at: datetime


class VerificationReport(BaseModel):
    mime_type: str
    width: int
    height: int
    content_credentials: ContentCredentials
    invisible_mark: InvisibleMark
    xmp_digital_source_type: str | None = Field(
        description="The IPTC DigitalSourceType in the file's own XMP metadata (images)."
    )
    job: MarkedJobInfo | None = Field(
        description="The job that made the file, when the mark names one of your account's."
    )


def verification_report(found: Verification) -> VerificationReport:
    report = found.file
    payload = report.payload
    return VerificationReport(
        mime_type=report.mime_type,
        width=report.width,
        height=report.height,
        content_credentials=ContentCredentials(**report.manifest.__dict__),
        xmp_digital_source_type=report.xmp_digital_source_type,
        invisible_mark=InvisibleMark(
            present=payload is not None,
            payload=payload.hex() if payload is not None else None,
            this_server=found.this_server,
        ),
        job=MarkedJobInfo(**found.job.__dict__) if found.job is not None else None,
    )


class TextVerificationReport(BaseModel):
    digest: str = Field(description="sha256: of the text's normalized form.")
    written_here: bool = Field(description="A job of this server answered this text.")
    job: MarkedJobInfo | None = Field(
        description="The job that wrote it, when it is one of your account's."
    )


def text_verification_report(found: TextVerification) -> TextVerificationReport:
    return TextVerificationReport(
        digest=f"sha256:{found.digest}",
        written_here=found.written_here,
        job=MarkedJobInfo(**found.job.__dict__) if found.job is not None else None,
    )
