"""The studio scenes: the product packshot and the head-and-shoulders portrait."""

from __future__ import annotations

from random import Random

from PIL import Image, ImageDraw

from creatix.engines.preview.brief import Brief
from creatix.engines.preview.colour import (
    BLACK,
    RGB,
    RGBA,
    WHITE,
    darken,
    lighten,
    mix,
    resembles,
    rgba,
)
from creatix.engines.preview.paint import Canvas, Glow, Plan, backdrop, sphere
from creatix.engines.preview.typography import fitted_font
from creatix.engines.preview.vocabulary import COLOR_WORDS, Look


def paint_product(plan: Plan, brief: Brief, rng: Random) -> Image.Image:
    """A packshot: a spotlit backdrop, a table, the product (bottle or box), a few props."""
    size = plan.size
    width, height = size
    unit = min(size)
    roles, look = brief.roles, brief.look
    floor_y = height * rng.uniform(0.64, 0.72)
    centre_x = width * rng.choice((0.5, 0.4, 0.6)) + width * rng.uniform(-0.03, 0.03)
    stops = [
        (0.0, darken(roles.mid, 0.3)),
        (floor_y / height, lighten(roles.light, 0.2)),
        (1.0, roles.mid),
    ]
    spot = Glow(centre_x, floor_y - height * 0.2, unit * 0.5, lighten(roles.light, 0.6), 0.6)
    canvas = Canvas(backdrop(size, stops, [spot], look), brief, rng)
    _table(canvas, floor_y)
    product_h = min(height * rng.uniform(0.3, 0.38), width * 0.7)
    base_y = floor_y + (height - floor_y) * 0.25
    if not look.sparse and rng.random() < 0.5:
        base_y = _pedestal(canvas, centre_x, base_y, product_h)
    if not look.sparse:
        _props(canvas, floor_y, centre_x, product_h)
    if "box" in brief.motifs:
        _box(canvas, centre_x, base_y, product_h)
    else:
        _bottle(canvas, centre_x, base_y, product_h)
    return canvas.image


def _table(canvas: Canvas, floor_y: float) -> None:
    roles, look, width, height = canvas.roles, canvas.look, canvas.width, canvas.height
    marble = "marble" in canvas.brief.motifs
    top_colour = lighten(roles.light, 0.6) if marble else mix(roles.mid, roles.deep, 0.35)
    canvas.draw.rectangle((0, floor_y, width, height), rgba(top_colour, look.alpha(235)))
    near_half = (0, (floor_y + height) / 2, width, height)
    canvas.draw.rectangle(near_half, _shadow_ink(look, top_colour, 24))
    edge_w = max(1, round(canvas.unit * 0.002))
    canvas.draw.line((0, floor_y, width, floor_y), rgba(WHITE, 90), edge_w)
    if marble:
        _marble_veins(canvas, floor_y, 14 if canvas.brief.detailed else 6)


def _marble_veins(canvas: Canvas, floor_y: float, count: int) -> None:
    rng, width, height = canvas.rng, canvas.width, canvas.height
    vein_w = max(1, round(canvas.unit * 0.0025))
    for _ in range(count):
        x, y = rng.uniform(-0.2, 1.0) * width, rng.uniform(floor_y, height)
        points = [(x, y)]
        for _ in range(12):
            x += width * rng.uniform(0.02, 0.08)
            y += height * rng.uniform(-0.015, 0.02)
            points.append((x, y))
        ink = rgba((120, 120, 126), rng.randint(40, 90))
        canvas.draw.line(points, ink, vein_w, joint="curve")


def _shadow_ink(look: Look, ground: RGB, alpha: int) -> RGBA:
    """Translucent black, or for flat looks the ground's own colour, darkened and opaque."""
    return rgba(darken(ground, 0.25), 255) if look.flat else rgba(BLACK, look.alpha(alpha))


def _pedestal(canvas: Canvas, cx: float, base_y: float, product_h: float) -> float:
    """A cylinder standing on the table; returns the height of its top surface."""
    half, lid = product_h * 0.42, product_h * 0.07
    top = base_y - product_h * 0.2
    side = mix(canvas.roles.light, canvas.roles.mid, 0.4)
    draw = canvas.draw
    draw.ellipse((cx - half, base_y - lid, cx + half, base_y + lid), rgba(darken(side, 0.3), 255))
    draw.rectangle((cx - half, top, cx + half, base_y), rgba(side, 255))
    draw.ellipse((cx - half, top - lid, cx + half, top + lid), rgba(lighten(side, 0.35), 255))
    return top


def _bottle(canvas: Canvas, cx: float, base_y: float, product_h: float) -> None:
    """A flacon: tinted glass body with a highlight and a label, a neck, a cap."""
    brief, draw = canvas.brief, canvas.draw
    roles, look = brief.roles, brief.look
    body_w = product_h * canvas.rng.uniform(0.42, 0.56)
    body_top = base_y - product_h * 0.72
    left, right = cx - body_w / 2, cx + body_w / 2
    shadow = (
        left - body_w * 0.1,
        base_y - product_h * 0.04,
        right + body_w * 0.1,
        base_y + product_h * 0.04,
    )
    draw.ellipse(shadow, _shadow_ink(look, roles.mid, 70))
    body_ink = rgba(roles.accent, look.alpha(225))
    draw.rounded_rectangle((left, body_top, right, base_y), radius=body_w * 0.18, fill=body_ink)
    neck_w, cap_w = body_w * 0.26, body_w * 0.44
    neck_top = body_top - product_h * 0.08
    neck_ink = rgba(lighten(roles.accent, 0.3), look.alpha(230))
    draw.rectangle((cx - neck_w / 2, neck_top, cx + neck_w / 2, body_top), neck_ink)
    dark_glass = resembles(roles.accent, BLACK)
    cap_colour = COLOR_WORDS["gold"][0] if dark_glass else darken(roles.deep, 0.3)
    cap = (cx - cap_w / 2, neck_top - product_h * 0.18, cx + cap_w / 2, neck_top)
    draw.rounded_rectangle(cap, radius=cap_w * 0.12, fill=rgba(cap_colour, 255))
    shine_x = left + body_w * 0.12
    shine = (
        shine_x,
        body_top + product_h * 0.06,
        shine_x + body_w * 0.08,
        base_y - product_h * 0.08,
    )
    draw.rounded_rectangle(shine, radius=body_w * 0.04, fill=rgba(WHITE, look.alpha(110)))
    label = (
        left + body_w * 0.2,
        body_top + product_h * 0.3,
        right - body_w * 0.2,
        body_top + product_h * 0.46,
    )
    draw.rectangle(label, rgba(lighten(roles.light, 0.5), look.alpha(210)))
    if brief.product_word:
        word_w, word_h = (label[2] - label[0]) * 0.8, (label[3] - label[1]) * 0.45
        font = fitted_font(brief.product_word, word_w, word_h)
        centre = ((label[0] + label[2]) / 2, (label[1] + label[3]) / 2)
        ink = rgba(darken(roles.deep, 0.4), 255)
        draw.text(centre, brief.product_word, fill=ink, font=font, anchor="mm")


def _box(canvas: Canvas, cx: float, base_y: float, product_h: float) -> None:
    """A package seen from a corner: a lit top, a mid left face, a dark right face."""
    accent, draw = canvas.roles.accent, canvas.draw
    half, depth, tall = product_h * 0.45, product_h * 0.2, product_h * 0.6
    front = (cx, base_y)
    left = (cx - half, base_y - depth)
    right = (cx + half * 0.8, base_y - depth * 0.9)
    back = (left[0] + right[0] - front[0], left[1] + right[1] - front[1])

    def lifted(point: tuple[float, float]) -> tuple[float, float]:
        return point[0], point[1] - tall

    draw.polygon([front, left, lifted(left), lifted(front)], rgba(accent, 255))
    draw.polygon([front, right, lifted(right), lifted(front)], rgba(darken(accent, 0.35), 255))
    top = [lifted(front), lifted(left), lifted(back), lifted(right)]
    draw.polygon(top, rgba(lighten(accent, 0.3), 255))


def _props(canvas: Canvas, floor_y: float, centre_x: float, product_h: float) -> None:
    """Two or three balls on the table beside the product."""
    rng = canvas.rng
    for _ in range(rng.randint(2, 3)):
        radius = product_h * rng.uniform(0.06, 0.12)
        x = centre_x + rng.choice((-1, 1)) * product_h * rng.uniform(0.5, 0.9)
        y = floor_y + (canvas.height - floor_y) * rng.uniform(0.3, 0.6) - radius
        colour = rng.choice(canvas.brief.palette)
        if canvas.look.flat:
            canvas.draw.ellipse((x - radius, y - radius, x + radius, y + radius), rgba(colour, 255))
        else:
            sphere(canvas.image, x, y, radius, colour)


def paint_portrait(plan: Plan, brief: Brief, rng: Random) -> Image.Image:
    """A head-and-shoulders silhouette, rim-lit, before out-of-focus lights."""
    size = plan.size
    width, height = size
    unit = min(size)
    roles = brief.roles
    cx = width * rng.choice((0.5, 0.38, 0.62))
    head_r = unit * rng.uniform(0.1, 0.12)
    head_y = height * rng.uniform(0.3, 0.36)
    bokeh = [
        Glow(
            rng.uniform(0, width),
            rng.uniform(0, height * 0.8),
            unit * rng.uniform(0.03, 0.09),
            rng.choice((roles.light, roles.accent)),
            rng.uniform(0.3, 0.7),
        )
        for _ in range(rng.randint(8, 14) + (8 if brief.detailed else 0))
    ]
    halo = Glow(cx, head_y, head_r * 3.2, lighten(roles.light, 0.3), 0.55)
    stops = [(0.0, darken(roles.mid, 0.15)), (1.0, darken(roles.deep, 0.2))]
    image = backdrop(size, stops, [*bokeh, halo], brief.look, radial=True)
    draw = ImageDraw.Draw(image, "RGBA")
    rim = rgba(lighten(roles.accent, 0.45), 255)
    figure = rgba(darken(roles.deep, 0.55), 255)
    shift = unit * 0.008 * rng.choice((-1, 1))
    for x, ink in ((cx + shift, rim), (cx, figure)):
        torso = (x - head_r * 2.3, head_y + head_r * 1.6, x + head_r * 2.3, height + head_r)
        neck = (x - head_r * 0.38, head_y + head_r * 0.6, x + head_r * 0.38, head_y + head_r * 1.8)
        head = (x - head_r * 0.82, head_y - head_r, x + head_r * 0.82, head_y + head_r)
        draw.rounded_rectangle(torso, radius=head_r * 1.2, fill=ink)
        draw.rectangle(neck, ink)
        draw.ellipse(head, ink)
    return image
