"""The IPTC ``DigitalSourceType`` in an image file's own XMP metadata, beside the C2PA
manifest (which says the same, signed): what readers that know no C2PA (photo libraries,
DAM systems, ad platforms) show as "AI-generated"."""

from __future__ import annotations

import re

from creatix.provenance.credentials import COMPOSITE, TRAINED

_PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" '
    'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    'Iptc4xmpExt:DigitalSourceType="{source_type}"/>'
    "</rdf:RDF></x:xmpmeta>"
    '<?xpacket end="r"?>'
)
_SOURCE_TYPE = re.compile(rb'Iptc4xmpExt:DigitalSourceType="([^"<>]{1,200})"')


def digital_source_xmp(*, composite: bool) -> bytes:
    """An XMP packet saying the image is AI-generated (from an input image, if ``composite``)."""
    return _PACKET.format(source_type=COMPOSITE if composite else TRAINED).encode()


def digital_source_type(xmp: bytes | None) -> str | None:
    """The ``DigitalSourceType`` an XMP packet names (in the form written above), if any."""
    if not xmp:
        return None
    found = _SOURCE_TYPE.search(xmp)
    return found.group(1).decode("utf-8", "replace") if found else None
