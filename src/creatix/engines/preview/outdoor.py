"""The outdoor scenes under a sky drawn from the palette: the landscape and the city."""

from __future__ import annotations

import math
from collections.abc import Sequence
from random import Random

from PIL import Image, ImageDraw

from creatix.engines.preview.brief import Brief
from creatix.engines.preview.colour import RGB, WARM_LIGHT, WHITE, darken, lighten, mix, rgba
from creatix.engines.preview.paint import (
    Box,
    Canvas,
    Glow,
    Plan,
    backdrop,
    celestial,
    even_stops,
    glow_stroke,
    reflect,
    shimmer,
    stars,
)


def _sky_stops(brief: Brief, horizon_share: float) -> list[tuple[float, RGB]]:
    """Dark overhead to light at the horizon, through the palette; night skies stay dark."""
    ramp = list(brief.roles.ramp)
    if brief.night:
        ramp = [darken(c, 0.75 - 0.5 * i / max(len(ramp) - 1, 1)) for i, c in enumerate(ramp)]
        ramp[-1] = mix(ramp[-1], brief.roles.accent, 0.45)
    else:
        ramp[0] = darken(ramp[0], 0.1)
    stops = even_stops(ramp, horizon_share)
    return [*stops, (1.0, darken(ramp[-1], 0.3))]


def _haze(brief: Brief) -> RGB:
    """The sky's colour just above the horizon: what distance fades things toward."""
    return _sky_stops(brief, 1.0)[-2][1]


def paint_landscape(plan: Plan, brief: Brief, rng: Random) -> Image.Image:
    """Sky, a sun or moon, layered ridges; a mirroring lake and a pine bank when asked for."""
    size = plan.size
    width, height = size
    unit = min(size)
    horizon = height * rng.uniform(0.58, 0.7)
    water = "water" in brief.motifs
    low_sun = "sun" in brief.motifs and not brief.night
    has_light = bool({"sun", "moon"} & brief.motifs) or rng.random() < 0.6
    light_r = unit * rng.uniform(0.06, 0.1)
    light_x = width * rng.uniform(0.18, 0.82)
    if low_sun:
        light_y = horizon - light_r * rng.uniform(-0.1, 1.6)
    else:
        light_y = height * rng.uniform(0.12, 0.32)
    light_colour = lighten(WHITE if brief.night else mix(brief.roles.light, WARM_LIGHT, 0.5), 0.35)
    glows = [Glow(width / 2, horizon, width * 0.7, brief.roles.accent, 0.18)]
    if has_light:
        glows.append(Glow(light_x, light_y, light_r * 4.5, light_colour, 0.55))
    image = backdrop(size, _sky_stops(brief, horizon / height), glows, brief.look)
    canvas = Canvas(image, brief, rng)
    if brief.night:
        stars(canvas, horizon * 0.85, 160 if brief.detailed else 70)
    if has_light:
        celestial(canvas, (light_x, light_y), light_r, light_colour)
    _mountains(canvas, horizon, water=water)
    if water:
        reflect(canvas, round(horizon))
        glints = 36 if brief.detailed else 14
        shimmer(canvas, horizon, lighten(brief.roles.light, 0.5), glints)
        if has_light:
            shimmer(canvas, horizon, light_colour, 12, around_x=light_x)
    if "trees" in brief.motifs and not brief.look.sparse:
        _forest_edge(canvas, away_from_x=light_x)
    return image


def _mountains(canvas: Canvas, horizon: float, *, water: bool) -> None:
    """Two or three ridges, hazier with distance; low hills where no mountain was asked for."""
    brief, rng = canvas.brief, canvas.rng
    tall = "mountain" in brief.motifs
    layers = 3 if (tall or brief.detailed) and not brief.look.sparse else 2
    haze = _haze(brief)
    base = darken(brief.roles.deep, 0.65 if brief.night else 0.35)
    bottom = horizon + 1 if water else canvas.height
    relief = min(canvas.height, canvas.width * 1.2)  # a narrow picture gets no needle peaks
    for layer in range(layers):
        depth = layer / (layers - 1)
        share = rng.uniform(0.16, 0.3) if tall else rng.uniform(0.04, 0.09)
        ridge = _ridge(
            rng,
            canvas.width,
            horizon if water else horizon + canvas.height * 0.06 * depth,
            relief * share * (1 - 0.35 * depth),
            peaks=rng.randint(1, 3) if tall else 2,
            points=160 if brief.detailed else 48,
            craggy=tall and brief.detailed,
        )
        colour = mix(haze, base, 0.35 + 0.65 * depth)
        canvas.draw.polygon([(-1, bottom), *ridge, (canvas.width + 1, bottom)], rgba(colour, 255))


def _ridge(
    rng: Random, width: int, foot: float, amplitude: float, *, peaks: int, points: int, craggy: bool
) -> list[tuple[float, float]]:
    """A skyline of tent-shaped peaks roughened by a few sine waves."""
    tents = [
        (rng.uniform(0.05, 0.95), rng.uniform(0.55, 1.0), rng.uniform(0.16, 0.42))
        for _ in range(peaks)
    ]
    waves = [
        (rng.uniform(6, 20), rng.uniform(0, math.tau), rng.uniform(0.02, 0.06)) for _ in range(3)
    ]
    if craggy:
        waves += [
            (rng.uniform(40, 90), rng.uniform(0, math.tau), rng.uniform(0.008, 0.02))
            for _ in range(3)
        ]
    outline = []
    for k in range(points + 1):
        t = k / points
        shape = max([0.12] + [peak * max(0.0, 1 - abs(t - c) / half) for c, peak, half in tents])
        shape += sum(a * math.sin(f * t + p) for f, p, a in waves)
        outline.append((t * width, foot - amplitude * max(0.0, shape)))
    return outline


def _forest_edge(canvas: Canvas, *, away_from_x: float) -> None:
    """A dark bank with pines, on the side away from the light."""
    rng, width, height = canvas.rng, canvas.width, canvas.height
    colour = darken(canvas.roles.deep, 0.75)
    reach = width * rng.uniform(0.3, 0.48)
    bank_top = height * rng.uniform(0.88, 0.93)
    edge_x, far_x = (0.0, reach) if away_from_x > width / 2 else (float(width), width - reach)
    canvas.draw.polygon([(edge_x, height), (edge_x, bank_top), (far_x, height)], colour)
    for _ in range(rng.randint(5, 8) + (4 if canvas.brief.detailed else 0)):
        offset = rng.random() ** 1.4
        x = edge_x + (far_x - edge_x) * offset * 0.85
        tree_h = canvas.unit * rng.uniform(0.16, 0.34) * (1.15 - offset * 0.6)
        ground = bank_top + (height - bank_top) * offset + canvas.unit * 0.01
        _pine(canvas.draw, x, ground, tree_h, colour)


def _pine(draw: ImageDraw.ImageDraw, x: float, base: float, height: float, colour: RGB) -> None:
    trunk = height * 0.035
    draw.rectangle((x - trunk, base - height * 0.2, x + trunk, base), colour)
    for tier in range(4):
        apex = base - height + tier * height * 0.2
        half = height * (0.1 + 0.06 * tier)
        skirt = apex + height * 0.38
        draw.polygon([(x, apex), (x - half, skirt), (x + half, skirt)], colour)


def paint_city(plan: Plan, brief: Brief, rng: Random) -> Image.Image:
    """Two rows of towers against a glowing horizon; lit windows, neon, a street or a river."""
    size = plan.size
    width, height = size
    unit = min(size)
    roles = brief.roles
    street = height * rng.uniform(0.76, 0.84)
    glows = [Glow(width * rng.uniform(0.3, 0.7), street, width * 0.7, roles.accent, 0.4)]
    moon = (width * rng.uniform(0.15, 0.85), height * rng.uniform(0.1, 0.28))
    moon_r = unit * rng.uniform(0.04, 0.07)
    moon_colour = lighten(roles.light, 0.6)
    show_moon = bool({"moon", "sun"} & brief.motifs) or rng.random() < 0.5
    if show_moon:
        glows.append(Glow(*moon, moon_r * 4, moon_colour, 0.4))
    image = backdrop(size, _sky_stops(brief, street / height), glows, brief.look)
    canvas = Canvas(image, brief, rng)
    if brief.night:
        stars(canvas, street * 0.6, 80 if brief.detailed else 30)
    if show_moon:
        celestial(canvas, moon, moon_r, moon_colour)
    far_colour = mix(_haze(brief), roles.deep, 0.5)
    _skyline(canvas, street, far_colour, (0.14, 0.34), windows=False)
    towers = _skyline(canvas, street, darken(roles.deep, 0.6), (0.16, 0.42), windows=True)
    if brief.look.glow or "neon" in brief.motifs:
        _neon_signs(canvas, towers)
    if "water" in brief.motifs:
        reflect(canvas, round(street))
        shimmer(canvas, street, roles.accent, 30 if brief.detailed else 14)
    else:
        _street(canvas, street)
    return image


def _skyline(
    canvas: Canvas,
    street: float,
    colour: RGB,
    height_range: tuple[float, float],
    *,
    windows: bool,
) -> list[Box]:
    """Towers edge to edge along the street; returns their boxes."""
    rng, unit = canvas.rng, canvas.unit
    towers: list[Box] = []
    x = -rng.uniform(0, unit * 0.05)
    while x < canvas.width:
        tower_w = unit * rng.uniform(0.06, 0.14)
        box = (x, street - canvas.height * rng.uniform(*height_range), x + tower_w, street + 1)
        canvas.draw.rectangle(box, colour)
        _roof(canvas, box, colour)
        if windows:
            _windows(canvas, box)
        towers.append(box)
        x += tower_w + unit * rng.choice((0.0, 0.0, 0.01, 0.025))
    return towers


def _roof(canvas: Canvas, box: Box, colour: RGB) -> None:
    """Most roofs are flat; some carry a mast or a setback."""
    rng, unit = canvas.rng, canvas.unit
    left, top, right, _ = box
    roll = rng.random()
    if roll < 0.2:
        mid = (left + right) / 2
        mast = (mid, top, mid, top - unit * rng.uniform(0.04, 0.09))
        canvas.draw.line(mast, colour, max(1, round(unit * 0.004)))
    elif roll < 0.4:
        inset = (right - left) * 0.2
        setback = (left + inset, top - unit * rng.uniform(0.02, 0.05), right - inset, top)
        canvas.draw.rectangle(setback, colour)


def _windows(canvas: Canvas, box: Box) -> None:
    brief, rng = canvas.brief, canvas.rng
    left, top, right, bottom = box
    cell = max(4.0, canvas.unit * (0.014 if brief.detailed else 0.022))
    lit_share = 0.32 if brief.night else 0.12
    lit_colours = (brief.roles.accent, lighten(brief.roles.light, 0.3), WARM_LIGHT)
    cols = int((right - left - cell * 0.5) // cell)
    rows = int((bottom - top - cell) // cell)
    for col in range(cols):
        for row in range(rows):
            if rng.random() < lit_share:
                x = left + cell * 0.5 + col * cell
                y = top + cell * 0.7 + row * cell
                ink = rgba(rng.choice(lit_colours), 220)
                canvas.draw.rectangle((x, y, x + cell * 0.5, y + cell * 0.6), ink)


def _neon_signs(canvas: Canvas, towers: Sequence[Box]) -> None:
    rng = canvas.rng
    colours = (canvas.roles.accent, *canvas.brief.palette)
    for left, top, right, bottom in rng.sample(list(towers), k=min(len(towers), rng.randint(3, 5))):
        tower_w = right - left
        x = left + tower_w * rng.uniform(0.15, 0.45)
        y = top + (bottom - top) * rng.uniform(0.08, 0.4)
        if rng.random() < 0.5:
            sign: Box = (x, y, x + tower_w * 0.25, y + tower_w * rng.uniform(0.6, 1.2))
        else:
            sign = (left + tower_w * 0.1, y, right - tower_w * 0.1, y + tower_w * 0.22)
        tube = max(1, round(tower_w * 0.025))
        glow_stroke(canvas.draw, "rectangle", sign, rng.choice(colours), tube)


def _street(canvas: Canvas, street: float) -> None:
    """Dark tarmac streaked by passing lights."""
    rng, width, height = canvas.rng, canvas.width, canvas.height
    canvas.draw.rectangle((0, street, width, height), rgba(darken(canvas.roles.deep, 0.7), 255))
    lane_w = max(1, round(canvas.unit * 0.004))
    for _ in range(10 if canvas.brief.detailed else 5):
        y = street + (height - street) * rng.uniform(0.15, 0.9)
        x = rng.uniform(0, width)
        colour = rng.choice((WARM_LIGHT, canvas.roles.accent, (255, 70, 60)))
        streak = (x, y, x + width * rng.uniform(0.05, 0.25), y)
        canvas.draw.line(streak, rgba(colour, 150), lane_w)
