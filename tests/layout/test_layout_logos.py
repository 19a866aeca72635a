"""Logos: raster and SVG logos rasterised, hostile files refused."""

from __future__ import annotations

import base64
import importlib
import io
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from creatix.layout import LayoutInputError, logos, rasterize_logo
from creatix.layout.logos import LOGO_SIDE

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" {attrs}>'
    "{body}</svg>"
)


def svg(body: str, attrs: str = 'viewBox="0 0 200 100"') -> bytes:
    return SVG.format(attrs=attrs, body=body).encode()


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_raster_logos_become_rgba(fmt: str) -> None:
    source = Image.new("RGB", (300, 120), (10, 120, 200))
    logo = rasterize_logo(encoded(source, fmt))
    assert logo.mode == "RGBA"
    assert logo.size == (300, 120)
    assert np.abs(np.asarray(logo)[60, 150, :3].astype(int) - (10, 120, 200)).max() <= 3


def test_a_transparent_png_keeps_its_alpha_and_big_logos_are_scaled_down() -> None:
    source = Image.new("RGBA", (3000, 1000), (0, 0, 0, 0))
    source.paste((200, 20, 20, 255), (0, 0, 1500, 1000))
    logo = rasterize_logo(encoded(source, "PNG"))
    assert logo.size == (LOGO_SIDE, round(LOGO_SIDE / 3))
    alpha = np.asarray(logo.getchannel("A"))
    assert alpha[100, 100] == 255
    assert alpha[100, LOGO_SIDE - 50] == 0


def test_an_svg_logo_is_rendered_at_its_aspect() -> None:
    body = (
        '<defs><linearGradient id="g"><stop offset="0" stop-color="#f00"/>'
        '<stop offset="1" stop-color="#00f"/></linearGradient></defs>'
        '<rect id="r" width="100" height="100" fill="url(#g)"/>'
        '<use xlink:href="#r" x="100"/>'
    )
    logo = rasterize_logo(svg(body))
    assert logo.size == (LOGO_SIDE, LOGO_SIDE // 2)
    pixels = np.asarray(logo)
    assert pixels[256, 10, 0] > 200  # red at the gradient's start
    assert pixels[256, LOGO_SIDE - 10, 2] > 200  # the <use> copy ends blue
    assert pixels[256, 10, 3] == 255


def test_an_svg_with_width_and_height_only_scales() -> None:
    logo = rasterize_logo(svg('<circle cx="15" cy="15" r="15"/>', 'width="30pt" height="30pt"'))
    assert logo.size == (LOGO_SIDE, LOGO_SIDE)
    assert np.asarray(logo.getchannel("A"))[LOGO_SIDE // 2, LOGO_SIDE // 2] == 255


def test_an_svg_declaring_a_huge_canvas_is_rendered_at_the_logo_size() -> None:
    logo = rasterize_logo(
        svg('<rect width="100000" height="100000"/>', 'width="100000" height="100000"')
    )
    assert logo.size == (LOGO_SIDE, LOGO_SIDE)


def test_an_svg_may_embed_a_raster_image() -> None:
    png = base64.b64encode(encoded(Image.new("RGB", (8, 8), (0, 200, 0)), "PNG")).decode()
    body = f'<image width="200" height="100" href="data:image/png;base64,{png}"/>'
    logo = rasterize_logo(svg(body))
    assert np.asarray(logo)[200, 500, 1] > 150


HOSTILE = {
    "script": svg("<script>alert(1)</script>"),
    "script-namespaced": svg('<svg:script xmlns:svg="http://www.w3.org/2000/svg">x()</svg:script>'),
    "onload": svg("", 'viewBox="0 0 1 1" onload="alert(1)"'),
    "onclick": svg('<rect width="1" height="1" onclick="x()"/>'),
    "foreign-object": svg(
        '<foreignObject><p xmlns="http://www.w3.org/1999/xhtml">hi</p></foreignObject>'
    ),
    "external-href": svg('<image href="https://example.com/x.png" width="1" height="1"/>'),
    "external-xlink": svg('<image xlink:href="file:///etc/passwd" width="1" height="1"/>'),
    "relative-href": svg('<use xlink:href="other.svg#a"/>'),
    "svg-data-url": svg('<image href="data:image/svg+xml;base64,PHN2Zy8+" width="1" height="1"/>'),
    "css-url": svg('<rect width="1" height="1" style="fill: url(http://example.com/p)"/>'),
    "css-import": svg('<style>@import "http://example.com/a.css";</style>'),
    "style-url": svg("<style>rect { fill: url('https://example.com/f') }</style>"),
    "attribute-url": svg('<rect width="1" height="1" fill="url(https://x.test/a)"/>'),
    "entity": (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><text>&b;</text></svg>'
    ),
    "external-entity": (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><text>&x;</text></svg>'
    ),
    "not-svg-root": b'<html xmlns="http://www.w3.org/1999/xhtml"><svg/></html>',
    "huge-canvas": svg('<rect width="1" height="1"/>', 'width="1" height="100000"'),
    "malformed": b"<svg xmlns='http://www.w3.org/2000/svg'><rect></svg>",
    "no-size": svg("<rect/>", 'width="50%" height="50%"'),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_svg_is_refused(name: str) -> None:
    with pytest.raises(LayoutInputError) as caught:
        rasterize_logo(HOSTILE[name])
    assert caught.value.field == "logo"


def test_a_use_bomb_is_refused() -> None:
    levels = ['<rect id="l0" width="1" height="1"/>']
    for level in range(1, 9):
        copies = "".join(f'<use xlink:href="#l{level - 1}"/>' for _ in range(10))
        levels.append(f'<g id="l{level}">{copies}</g>')
    with pytest.raises(LayoutInputError) as caught:
        rasterize_logo(svg("<defs>" + "".join(levels) + '</defs><use xlink:href="#l8"/>'))
    assert "expands" in caught.value.message


def test_a_use_cycle_is_refused() -> None:
    body = '<g id="a"><use xlink:href="#b"/></g><g id="b"><use xlink:href="#a"/></g>'
    with pytest.raises(LayoutInputError):
        rasterize_logo(svg(body))


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(LayoutInputError):
        rasterize_logo(svg("<g>" * 5000 + '<rect width="1" height="1"/>' + "</g>" * 5000))


def _bomb(size: tuple[int, int]) -> bytes:
    return encoded(Image.new("1", size), "PNG")


@pytest.mark.parametrize("size", [(20_000, 20_000), (5000, 5000)])
def test_an_svg_embedding_a_png_bomb_is_refused(size: tuple[int, int]) -> None:
    payload = base64.b64encode(_bomb(size)).decode()
    body = f'<image width="200" height="100" href="data:image/png;base64,{payload}"/>'
    with pytest.raises(LayoutInputError) as caught:
        rasterize_logo(svg(body))
    assert "embeds an image" in caught.value.message


def test_an_svg_embedding_garbage_is_refused() -> None:
    body = '<image width="2" height="1" href="data:image/png;base64,AAAA"/>'
    with pytest.raises(LayoutInputError):
        rasterize_logo(svg(body))


def test_a_png_bomb_is_refused() -> None:
    bomb = _bomb((20_000, 20_000))  # 400 megapixels in a few dozen kilobytes
    assert len(bomb) < 200_000
    with pytest.raises(LayoutInputError) as caught:
        rasterize_logo(bomb)
    assert caught.value.field == "logo"


def test_a_png_over_the_pixel_cap_is_refused() -> None:
    with pytest.raises(LayoutInputError) as caught:
        rasterize_logo(_bomb((5000, 5000)))
    assert "megapixels" in caught.value.message


@pytest.mark.parametrize(
    "data",
    [b"", b"GIF89a" + b"\x00" * 50, b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"plain text"],
    ids=["empty", "gif", "truncated-png", "text"],
)
def test_a_file_that_is_not_an_image_is_refused(data: bytes) -> None:
    with pytest.raises(LayoutInputError) as caught:
        rasterize_logo(data)
    assert caught.value.field == "logo"


def test_an_invisible_logo_is_refused() -> None:
    with pytest.raises(LayoutInputError):
        rasterize_logo(encoded(Image.new("RGBA", (50, 50), (0, 0, 0, 0)), "PNG"))


def test_without_resvg_an_svg_logo_is_a_server_error_and_raster_logos_still_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = importlib.import_module

    def without_resvg(name: str, package: str | None = None) -> ModuleType:
        if name == "resvg_py":
            raise ImportError(name)
        return real_import(name, package)

    logos._svg_module.cache_clear()
    monkeypatch.setattr(logos.importlib, "import_module", without_resvg)
    try:
        with pytest.raises(RuntimeError, match="resvg-py"):
            rasterize_logo(svg('<rect width="200" height="100"/>'))
        assert rasterize_logo(encoded(Image.new("RGB", (30, 10), (1, 2, 3)), "PNG")).size == (
            30,
            10,
        )
    finally:
        logos._svg_module.cache_clear()
