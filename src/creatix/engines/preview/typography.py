"""Type on the picture: fonts, the headline with its rule and caption, the PREVIEW label."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from random import Random

from PIL import Image, ImageDraw, ImageFont, ImageStat

from creatix.engines.preview.brief import Brief
from creatix.engines.preview.colour import BLACK, RGBA, WHITE, rgba, smoothstep
from creatix.engines.preview.paint import BAND_ROWS, VERTICAL, Box, Plan, letterbox_bar
from creatix.engines.preview.vocabulary import Look
from creatix.media.watermark import watermark_box

Font = ImageFont.FreeTypeFont

PREVIEW_LABEL = "PREVIEW"
MIN_CAPTION_SIZE = 10


@lru_cache(maxsize=64)
def _font(size: int) -> Font:
    font = ImageFont.load_default(size=max(1, size))
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("Pillow was built without FreeType; the preview engine needs it")
    return font


def fitted_font(text: str, max_width: float, max_size: float) -> Font:
    size = max(1, int(max_size))
    length = _font(size).getlength(text)
    if length > max_width:
        size = max(1, int(size * max_width / length))
    return _font(size)


def _label_box(size: tuple[int, int]) -> tuple[Box, Font]:
    unit = min(size)
    font = fitted_font(PREVIEW_LABEL, size[0] * 0.4, max(9, unit * 0.024))
    margin = round(unit * 0.03)
    text_w = font.getlength(PREVIEW_LABEL)
    pad = font.size * 0.6
    return (margin, margin, margin + text_w + 2 * pad, margin + font.size + pad), font


def draw_preview_label(image: Image.Image) -> None:
    box, font = _label_box(image.size)
    draw = ImageDraw.Draw(image, "RGBA")
    draw.rounded_rectangle(box, radius=(box[3] - box[1]) / 2, fill=(255, 255, 255, 200))
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    draw.text(centre, PREVIEW_LABEL, fill=(20, 20, 26, 255), font=font, anchor="mm")


@dataclass(frozen=True)
class TypeBlock:
    """The headline, its accent rule and the caption, measured for one image."""

    lines: list[str]
    font: Font
    caption: str
    caption_font: Font
    rule_h: float

    @property
    def line_h(self) -> float:
        return self.font.size * 1.12

    @property
    def height(self) -> float:
        caption_h = self.caption_font.size * 1.3 if self.caption else 0.0
        return self.line_h * len(self.lines) + self.rule_h + self.font.size * 0.5 + caption_h


def draw_typography(image: Image.Image, brief: Brief, plan: Plan, rng: Random) -> None:
    width, _ = image.size
    unit = min(image.size)
    margin = unit * 0.06
    block = _type_block(brief, width - 2 * margin, unit)
    top = _typography_top(image.size, block.height, margin, brief.look, plan.text_at_top)
    centred = rng.random() < 0.35
    anchor_x = width / 2 if centred else margin
    anchor = "ma" if centred else "la"
    ink, shadow = _ink_for(image, (margin, top, width - margin, top + block.height))
    _scrim(image, top, block.height, margin, dark=ink[0] > 128)
    draw = ImageDraw.Draw(image, "RGBA")
    offset = max(1.0, block.font.size * 0.04)
    weight = block.font.size // 40
    for i, line in enumerate(block.lines):
        y = top + i * block.line_h
        draw.text((anchor_x + offset, y + offset), line, shadow, block.font, anchor)
        draw.text(
            (anchor_x, y), line, ink, block.font, anchor, stroke_width=weight, stroke_fill=ink
        )
    rule_y = top + block.line_h * len(block.lines) + block.font.size * 0.15
    rule_w = unit * 0.1
    rule_x = anchor_x - rule_w / 2 if centred else anchor_x
    rule_colour = ink[:3] if brief.look.flat else brief.roles.accent
    draw.rectangle((rule_x, rule_y, rule_x + rule_w, rule_y + block.rule_h), rgba(rule_colour, 255))
    if block.caption:
        caption_y = rule_y + block.rule_h + block.font.size * 0.3
        draw.text((anchor_x, caption_y), block.caption, ink, block.caption_font, anchor)


def type_band(size: tuple[int, int], brief: Brief, plan: Plan) -> tuple[float, float]:
    """The rows ``draw_typography`` will set the headline block in: (top, bottom)."""
    unit = min(size)
    margin = unit * 0.06
    block = _type_block(brief, size[0] - 2 * margin, unit)
    top = _typography_top(size, block.height, margin, brief.look, plan.text_at_top)
    return top, top + block.height


def label_bottom(size: tuple[int, int]) -> float:
    """The lowest row of the PREVIEW label."""
    return _label_box(size)[0][3]


def _type_block(brief: Brief, max_width: float, unit: int) -> TypeBlock:
    largest = unit * (0.062 if brief.look.sparse else 0.082)
    lines, font = _headline_lines(brief.headline, max_width, largest)
    natural_caption = round(max(font.size * 0.4, unit * 0.026))
    caption_font = _font(max(MIN_CAPTION_SIZE, natural_caption))
    # On thumbnails a legible caption would outgrow the headline: leave it out.
    caption = brief.caption if natural_caption >= MIN_CAPTION_SIZE * 0.7 else ""
    return TypeBlock(
        lines=lines,
        font=font,
        caption=_truncate(caption, caption_font, max_width),
        caption_font=caption_font,
        rule_h=max(2.0, unit * 0.005),
    )


def _headline_lines(headline: str, max_width: float, largest: float) -> tuple[list[str], Font]:
    """One line if it fits large enough, else two lines, shrunk until the widest fits."""
    font = _font(round(largest))
    if font.getlength(headline) <= max_width:
        return [headline], font
    words = headline.split()
    lines = [headline]
    if len(words) > 1:
        split = min(
            range(1, len(words)),
            key=lambda k: abs(len(" ".join(words[:k])) - len(" ".join(words[k:]))),
        )
        lines = [" ".join(words[:split]), " ".join(words[split:])]
    widest = max(font.getlength(line) for line in lines)
    if widest > max_width:
        font = _font(max(6, int(font.size * max_width / widest)))
    return lines, font


def _truncate(text: str, font: Font, max_width: float) -> str:
    if not text or font.getlength(text) <= max_width:
        return text
    words = text.split()
    while words and font.getlength(" ".join(words) + "…") > max_width:
        words.pop()
    return " ".join(words) + "…" if words else ""


def _typography_top(
    size: tuple[int, int], block_h: float, margin: float, look: Look, at_top: bool
) -> float:
    """Under the PREVIEW label, or low but clear of the watermark box (if the block fits)."""
    width, height = size
    label_bottom = _label_box(size)[0][3]
    bar = letterbox_bar(size) if look.letterbox else 0
    upper = max(label_bottom, bar) + margin * 0.5
    lowest = min(height - bar - margin * 0.5, watermark_box(width, height)[1] - margin * 0.4)
    lower = lowest - block_h
    return upper if at_top or lower < upper else lower


def _scrim(image: Image.Image, top: float, block_h: float, margin: float, *, dark: bool) -> None:
    """A soft shade behind the type, deepest at the image edge the type sits against."""
    height = image.height
    at_top = top < height / 2
    start = 0 if at_top else max(0, round(top - margin * 1.5))
    end = min(height, round(top + block_h + margin * 1.5)) if at_top else height
    if end - start < 2:
        return
    strength = 0.5 if dark else 0.35
    lut = [round(255 * strength * smoothstep(min(1.0, v / 255 * 1.5))) for v in range(256)]
    column = VERTICAL.crop((0, 0, 1, 256)).point(lut)
    if at_top:
        column = column.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    column = column.resize((1, end - start), Image.Resampling.BILINEAR)
    # Pasting an image through a mask is about twice as fast as pasting a colour through it;
    # a band of rows at a time keeps the shade and its mask a band's size.
    shade = Image.new("RGB", (image.width, min(BAND_ROWS, end - start)), BLACK if dark else WHITE)
    for band_top in range(start, end, BAND_ROWS):
        rows = min(BAND_ROWS, end - band_top)
        mask = column.crop((0, band_top - start, 1, band_top - start + rows))
        mask = mask.resize((image.width, rows), Image.Resampling.NEAREST)
        image.paste(shade.crop((0, 0, image.width, rows)), (0, band_top), mask)


def _ink_for(image: Image.Image, box: Box) -> tuple[RGBA, RGBA]:
    """Light type on dark ground, dark type on light ground; with a soft opposite shadow."""
    width, height = image.size
    left = min(max(0, round(box[0])), width - 1)
    top = min(max(0, round(box[1])), height - 1)
    right = min(width, max(round(box[2]), left + 1))
    bottom = min(height, max(round(box[3]), top + 1))
    # Resized straight from the picture: no copy of the (possibly wide) region.
    region = image.resize((8, 8), Image.Resampling.BOX, box=(left, top, right, bottom))
    brightness = ImageStat.Stat(region.convert("L")).mean[0]
    if brightness > 150:
        return (24, 24, 30, 255), (255, 255, 255, 90)
    return (250, 250, 248, 255), (0, 0, 0, 110)
