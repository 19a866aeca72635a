"""The abstract poster, the painter of each scene, and where each scene leaves room for type."""

from __future__ import annotations

from collections.abc import Callable
from random import Random
from typing import Literal

from PIL import Image

from creatix.engines.preview.brief import Brief
from creatix.engines.preview.colour import RGB, lighten, rgba
from creatix.engines.preview.outdoor import paint_city, paint_landscape
from creatix.engines.preview.paint import (
    Canvas,
    Glow,
    Plan,
    backdrop,
    even_stops,
    glow_stroke,
    sphere,
)
from creatix.engines.preview.studio import paint_portrait, paint_product
from creatix.engines.preview.vocabulary import Scene


def _paint_abstract(plan: Plan, brief: Brief, rng: Random) -> Image.Image:
    """A poster of shapes on thirds: one large focal shape, smaller ones around it."""
    size = plan.size
    width, height = size
    unit = min(size)
    roles = brief.roles
    radial = rng.random() < 0.5
    ramp = list(reversed(roles.ramp)) if radial else list(roles.ramp)
    glows = [
        Glow(
            rng.uniform(0, width),
            rng.uniform(0, height),
            unit * rng.uniform(0.3, 0.6),
            roles.accent,
            0.35,
        )
        for _ in range(2)
    ]
    canvas = Canvas(backdrop(size, even_stops(ramp), glows, brief.look, radial=radial), brief, rng)
    anchors = [(1 / 3, 0.6), (2 / 3, 0.62), (0.5, 0.72), (0.25, 0.8), (0.75, 0.48)]
    if not plan.text_at_top:
        anchors = [(x, 1 - y) for x, y in anchors]
    rng.shuffle(anchors)
    colours = [c for c in brief.palette if c != roles.deep] or list(brief.palette)
    count = 3 if brief.look.sparse else 5 + (3 if brief.detailed else 0)
    for i in range(count):
        ax, ay = anchors[i % len(anchors)]
        centre = (width * (ax + rng.uniform(-0.08, 0.08)), height * (ay + rng.uniform(-0.08, 0.08)))
        radius = unit * (rng.uniform(0.2, 0.3) if i == 0 else rng.uniform(0.05, 0.15))
        _abstract_shape(canvas, centre, radius, colours[i % len(colours)])
    if brief.detailed:
        _dot_grid(canvas, anchors[-1], lighten(roles.light, 0.4))
    return canvas.image


def _abstract_shape(
    canvas: Canvas, centre: tuple[float, float], radius: float, colour: RGB
) -> None:
    look, draw = canvas.look, canvas.draw
    x, y = centre
    box = (x - radius, y - radius, x + radius, y + radius)
    stroke = max(2, round(radius * 0.12))
    kind = canvas.rng.choice(("disc", "ring", "block", "band", "arc", "triangle"))
    if look.shaded and kind in ("disc", "ring", "arc"):
        sphere(canvas.image, x, y, radius, colour)
    elif look.glow and kind in ("ring", "arc", "block"):
        outline: Literal["ellipse", "rectangle"] = "rectangle" if kind == "block" else "ellipse"
        glow_stroke(draw, outline, box, colour, max(1, stroke // 3))
    elif kind == "disc":
        draw.ellipse(box, rgba(colour, look.alpha(215)))
    elif kind == "ring":
        draw.ellipse(box, outline=rgba(colour, look.alpha(230)), width=stroke)
    elif kind == "block":
        block = (x - radius, y - radius * 0.6, x + radius, y + radius * 0.6)
        draw.rounded_rectangle(block, radius=radius * 0.2, fill=rgba(colour, look.alpha(200)))
    elif kind == "band":
        tilt, half = radius * canvas.rng.uniform(-1.5, 1.5), radius * 0.3
        band = [
            (0, y - half + tilt),
            (canvas.width, y - half - tilt),
            (canvas.width, y + half - tilt),
            (0, y + half + tilt),
        ]
        draw.polygon(band, rgba(colour, look.alpha(150)))
    elif kind == "arc":
        start = canvas.rng.choice((0, 90, 180, 270))
        draw.arc(box, start, start + 180, fill=rgba(colour, look.alpha(240)), width=stroke * 2)
    else:
        triangle = [(x, y - radius), (x - radius, y + radius * 0.8), (x + radius, y + radius * 0.8)]
        draw.polygon(triangle, rgba(colour, look.alpha(210)))


def _dot_grid(canvas: Canvas, anchor: tuple[float, float], colour: RGB) -> None:
    """A small grid of dots: the kind of detail a designer adds last."""
    step = canvas.unit * 0.028
    dot = max(1.0, canvas.unit * 0.004)
    left = canvas.width * anchor[0] - step * 2
    top = canvas.height * anchor[1] - step * 2
    for col in range(5):
        for row in range(5):
            x, y = left + col * step, top + row * step
            canvas.draw.ellipse((x - dot, y - dot, x + dot, y + dot), rgba(colour, 200))


SCENE_TEXT_ZONES: dict[Scene, Literal["top", "bottom", "any"]] = {
    "landscape": "any",
    "city": "top",
    "product": "top",
    "portrait": "bottom",
    "abstract": "any",
}
"""Where the headline may go without covering the scene's subject."""

SCENE_PAINTERS: dict[Scene, Callable[[Plan, Brief, Random], Image.Image]] = {
    "landscape": paint_landscape,
    "city": paint_city,
    "product": paint_product,
    "portrait": paint_portrait,
    "abstract": _paint_abstract,
}


def text_at_top(scene: Scene, rng: Random) -> bool:
    zone = SCENE_TEXT_ZONES[scene]
    return zone == "top" or (zone == "any" and rng.random() < 0.5)
