"""Logos: a kit's PNG, JPEG, WebP or SVG made into a bounded RGBA image, refusing hostile files.

Raster logos go through Pillow with its decompression-bomb guard raised to an error and a pixel
cap. SVG is parsed with defusedxml (no DTDs, no entities), refused if it holds scripts, event
handlers, ``foreignObject``, CSS imports or any reference that is not inside the document
(``#id``) or an embedded raster (``data:image/png|jpeg|gif|webp``), then re-serialised with an
explicit, bounded pixel size and rendered by resvg (no network, no file access: every external
reference was refused before it). Its text, if any, is set in the bundled fonts only.
"""

from __future__ import annotations

import base64
import importlib
import io
import re
import warnings
import xml.etree.ElementTree as ET
from functools import cache
from types import ModuleType

from PIL import Image

from creatix.layout.errors import LayoutInputError
from creatix.layout.fonts import BUNDLED_FILES, FONT_DIR

MAX_LOGO_BYTES = 5 * 1024 * 1024
MAX_LOGO_PIXELS = 16_000_000  # decoded raster logos
LOGO_SIDE = 1024  # the longer side a logo is kept at (slots are far smaller)
MAX_SVG_ELEMENTS = 20_000
MAX_SVG_EXPANDED = 100_000  # elements after every <use> is expanded
SVG_PACKAGES = {"defusedxml.ElementTree": "defusedxml", "resvg_py": "resvg-py"}

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
RASTER_FORMATS = ("PNG", "JPEG", "WEBP")
SAFE_DATA_URL = re.compile(r"^data:image/(png|jpeg|jpg|gif|webp)[;,]", re.IGNORECASE)
CSS_URL = re.compile(r"url\(\s*['\"]?\s*([^'\")\s]*)", re.IGNORECASE)
FORBIDDEN_TAGS = {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener"}
UNITS = {"": 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0}
LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]*)\s*$")


def _refuse(message: str) -> LayoutInputError:
    return LayoutInputError("logo", message)


def rasterize_logo(data: bytes) -> Image.Image:
    """The logo as an RGBA image at most ``LOGO_SIDE`` pixels on its longer side."""
    if not isinstance(data, bytes | bytearray) or not data:
        raise _refuse("the logo file is empty")
    data = bytes(data)
    if len(data) > MAX_LOGO_BYTES:
        raise _refuse(f"the logo file is larger than {MAX_LOGO_BYTES // (1024 * 1024)} MiB")
    image = _render_svg(data) if _looks_like_svg(data) else _decode_raster(data)
    if image.getbbox() is None or image.getchannel("A").getbbox() is None:
        raise _refuse("the logo has no visible pixels")
    return image


def _looks_like_svg(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype svg")) or b"<svg" in head


def _decode_raster(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=RASTER_FORMATS) as opened:
                width, height = opened.size
                if width <= 0 or height <= 0 or width * height > MAX_LOGO_PIXELS:
                    raise _refuse(
                        f"the logo is {width}x{height} pixels; at most "
                        f"{MAX_LOGO_PIXELS // 1_000_000} megapixels are accepted"
                    )
                opened.load()
                image = opened.convert("RGBA")
    except LayoutInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse("the logo declares far too many pixels") from exc
    except Exception as exc:  # UnidentifiedImageError, OSError, SyntaxError, ... on bad data
        raise _refuse("the logo is not a PNG, JPEG, WebP or SVG image") from exc
    image.thumbnail((LOGO_SIDE, LOGO_SIDE), Image.Resampling.LANCZOS)
    return image


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def _check_reference(value: str, where: str) -> None:
    value = value.strip()
    if value.startswith("#"):
        return
    if SAFE_DATA_URL.match(value):
        _check_embedded(value, where)
        return
    raise _refuse(f"the SVG logo refers to something outside itself ({where})")


def _check_embedded(url: str, where: str) -> None:
    """An embedded raster must be a readable image within the pixel cap: resvg would decode
    a compressed bomb in full."""
    header, _, payload = url.partition(",")
    try:
        if not header.lower().endswith(";base64"):
            raise ValueError("not base64")
        data = base64.b64decode("".join(payload.split()), validate=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=(*RASTER_FORMATS, "GIF")) as image:
                width, height = image.size
    except Exception as exc:  # binascii.Error, UnidentifiedImageError, bomb errors, ...
        raise _refuse(f"the SVG logo embeds an image that cannot be read ({where})") from exc
    if width * height > MAX_LOGO_PIXELS:
        raise _refuse(f"the SVG logo embeds an image of {width}x{height} pixels ({where})")


def _check_css(text: str, where: str) -> None:
    if "@import" in text.lower():
        raise _refuse(f"the SVG logo imports a stylesheet ({where})")
    for match in CSS_URL.finditer(text):
        _check_reference(match.group(1), where)


def _check_svg_tree(root: ET.Element) -> None:
    if _local(root.tag) != "svg" or not root.tag.startswith("{" + SVG_NS + "}"):
        raise _refuse("the file is not an SVG image (its root is not <svg>)")
    for count, element in enumerate(root.iter()):
        if count > MAX_SVG_ELEMENTS:
            raise _refuse(f"the SVG logo has more than {MAX_SVG_ELEMENTS} elements")
        if not isinstance(element.tag, str):
            continue
        tag = _local(element.tag)
        if tag in FORBIDDEN_TAGS:
            raise _refuse(f"the SVG logo contains <{tag}>, which is not allowed")
        for name, value in element.attrib.items():
            attribute = _local(name)
            if attribute.startswith("on"):
                raise _refuse(f"the SVG logo has an event handler ({attribute} on <{tag}>)")
            if attribute in ("href", "src"):
                _check_reference(value, f"{attribute} on <{tag}>")
            else:
                _check_css(value, f"{attribute} on <{tag}>")
        if tag == "style" and element.text:
            _check_css(element.text, "<style>")
    _check_expansion(root)


def _href(element: ET.Element) -> str | None:
    for name, value in element.attrib.items():
        if _local(name) == "href" and value.strip().startswith("#"):
            return value.strip()[1:]
    return None


def _check_expansion(root: ET.Element) -> None:
    """Refuse a "use bomb": <use> elements that copy groups of <use> elements multiply, so
    a few hundred bytes can expand to billions of shapes. Counts the elements the document
    expands to (each reference counted as a copy of its target) and refuses cycles."""
    by_id = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def expanded(element: ET.Element) -> int:
        key = id(element)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise _refuse("the SVG logo refers to itself in a loop")
        visiting.add(key)
        total = 1 + sum(expanded(child) for child in element if isinstance(child.tag, str))
        target = by_id.get(_href(element) or "")
        if target is not None:
            total += expanded(target)
        visiting.discard(key)
        sizes[key] = min(total, MAX_SVG_EXPANDED + 1)
        return sizes[key]

    try:
        total = expanded(root)
    except RecursionError as exc:
        raise _refuse("the SVG logo is nested too deeply") from exc
    if total > MAX_SVG_EXPANDED:
        raise _refuse(f"the SVG logo expands to more than {MAX_SVG_EXPANDED} elements")


def _length(value: str | None) -> float | None:
    if value is None:
        return None
    match = LENGTH.match(value.lower())
    if match is None or match.group(2) not in UNITS:
        return None
    return float(match.group(1)) * UNITS[match.group(2)]


def _intrinsic_size(root: ET.Element) -> tuple[float, float]:
    """The SVG's aspect from its viewBox, else its width and height; it gets a viewBox so that
    it scales to the size it is rendered at."""
    view_box = root.get("viewBox")
    if view_box is not None:
        try:
            _, _, width, height = (float(v) for v in view_box.replace(",", " ").split())
        except ValueError as exc:
            raise _refuse("the SVG logo's viewBox is not four numbers") from exc
    else:
        w, h = _length(root.get("width")), _length(root.get("height"))
        if w is None or h is None:
            raise _refuse("the SVG logo needs a viewBox or a width and height in absolute units")
        width, height = w, h
        root.set("viewBox", f"0 0 {width:g} {height:g}")
    if not (width > 0 and height > 0) or max(width / height, height / width) > 100:
        raise _refuse("the SVG logo's size is empty or absurdly thin")
    return width, height


@cache
def _font_files() -> list[str]:
    return [str(FONT_DIR / name) for name in BUNDLED_FILES.values()]


@cache
def _svg_module(name: str) -> ModuleType:
    """defusedxml's ElementTree and resvg, loaded with the first SVG logo: only SVG needs
    them, so a server installed without them still takes raster logos (and says why an SVG
    fails)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        package = SVG_PACKAGES[name]
        raise RuntimeError(f"SVG logos need the {package} package (pip install {package})") from exc


def _render_svg(data: bytes) -> Image.Image:
    safe_xml, resvg = _svg_module("defusedxml.ElementTree"), _svg_module("resvg_py")
    try:
        root = safe_xml.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except Exception as exc:  # ParseError, DTDForbidden, EntitiesForbidden, ...
        raise _refuse("the SVG logo is not well-formed XML without DTDs or entities") from exc
    _check_svg_tree(root)
    width, height = _intrinsic_size(root)
    scale = LOGO_SIDE / max(width, height)
    out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
    root.set("width", str(out_w))
    root.set("height", str(out_h))
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    markup = ET.tostring(root, encoding="unicode")
    try:
        png = resvg.svg_to_bytes(
            svg_string=markup, skip_system_fonts=True, font_files=_font_files()
        )
        image = Image.open(io.BytesIO(bytes(png)), formats=("PNG",))
        image.load()
    except Exception as exc:
        raise _refuse("the SVG logo could not be rendered") from exc
    if image.size != (out_w, out_h):
        raise _refuse("the SVG logo rendered at an unexpected size")
    return image.convert("RGBA")
