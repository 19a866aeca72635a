"""An invisible watermark that carries a 64-bit payload in an image's luminance.

The scheme (chosen by measurement, see docs/provenance.md):

- A tile of ``CHIPS`` x ``CHIPS`` chips of +-1 holds a sync pattern and the payload: 64 bits
  plus a CRC-32, whitened with a fixed key, each bit repeated on several chips scattered over
  the tile. The tile is interpolated (Fourier zero-padding, a band-pass: no lowest
  frequencies, nothing above the chip rate) to ``PERIOD`` pixels and repeated over the whole
  image, its strength following the local texture (stronger where the picture is busy).
- Detection whitens the luminance (a Laplacian, clipped), folds it modulo the period (every
  pixel lands on its place in the tile: a crop keeps the structure, only shifted), finds the
  shift by correlating the folded tile with the sync pattern (one FFT), reads the chips back
  with the matched filter, and accepts the bits only when the CRC-32 holds. The period is
  measured from the residual's autocorrelation, and the embedding period and its half (a
  50% resize) are always tried.

The key patterns come from SHAKE-256, so they never change with a library version: an image
marked today is read by any later release.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageChops, ImageFilter

PAYLOAD_BYTES = 8
MIN_SIDE = 128
"""``embed`` refuses images whose shorter side is below this (too few pixels to carry it)."""

CHIPS = 32
"""The tile's side in chips."""
PERIOD = 128
"""The tile's side in pixels of the marked image."""
STRENGTH = 2.9
"""RMS of the luminance change, in 8-bit levels, before clipping at black and white."""

_CRC_BYTES = 4
_BITS = (PAYLOAD_BYTES + _CRC_BYTES) * 8
_REPEAT = 7
"""Chips per payload bit per tile; the rest of the tile is sync."""
_LOW_CUT = 3
"""Frequencies below this radius (cycles per tile) carry nothing: image content lives there."""
_MASK_BLOCK = 8
_MASK_FLOOR = 0.35
_MASK_CEILING = 2.5
"""Times the mean strength, at most: 100 x this fits in 8 bits."""
_RESIDUAL_CLIP = 2.5
"""Residuals beyond this many mean absolute residuals are clipped: edges do not swamp."""
_PEAKS = 3
_FLIPS = 10
"""Chase decoding: every subset of the least reliable bits is tried against the CRC."""
_FLOAT = np.float32

FloatArray = NDArray[np.float32]


def _key(label: str, size: int) -> bytes:
    return hashlib.shake_256(f"creatix-mark-v1/{label}".encode()).digest(size)


def _key_signs(label: str, count: int) -> FloatArray:
    bits = np.unpackbits(np.frombuffer(_key(label, (count + 7) // 8), dtype=np.uint8))
    return (bits[:count].astype(_FLOAT) * 2 - 1).astype(_FLOAT)


class _Layout:
    """Where the sync and each payload bit sit in the tile; the same for every image."""

    def __init__(self) -> None:
        chips = CHIPS * CHIPS
        rank = np.frombuffer(_key("order", chips * 4), dtype="<u4")
        order = np.argsort(rank, kind="stable")
        data_count = _BITS * _REPEAT
        self.data_positions = order[:data_count]
        self.sync_positions = order[data_count:]
        self.bit_of_chip = np.arange(data_count) % _BITS
        self.spread = _key_signs("spread", data_count)
        self.whitening = np.unpackbits(np.frombuffer(_key("whitening", _BITS // 8), np.uint8))
        sync = np.zeros(chips, dtype=_FLOAT)
        sync[self.sync_positions] = _key_signs("sync", self.sync_positions.size)
        self.sync_tile = sync.reshape(CHIPS, CHIPS)

    def tile(self, bits: NDArray[np.uint8]) -> FloatArray:
        chips = self.sync_tile.reshape(-1).copy()
        signs = (bits ^ self.whitening).astype(_FLOAT) * 2 - 1
        chips[self.data_positions] = self.spread * signs[self.bit_of_chip]
        return chips.reshape(CHIPS, CHIPS)

    def soft_bits(self, chips: FloatArray) -> FloatArray:
        votes = chips.reshape(-1)[self.data_positions] * self.spread
        return np.bincount(self.bit_of_chip, weights=votes, minlength=_BITS).astype(_FLOAT)


_LAYOUT = _Layout()


def _frequencies(size: int) -> NDArray[np.int64]:
    frequencies: NDArray[np.int64] = np.rint(np.fft.fftfreq(size) * size).astype(np.int64)
    return frequencies


@lru_cache(maxsize=8)
def _band(period: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """The chip grid's frequencies that carry the mark and where they sit on a period grid."""
    k = _frequencies(CHIPS)
    ky, kx = np.meshgrid(k, k, indexing="ij")
    inside = (np.abs(ky) < CHIPS // 2) & (np.abs(kx) < CHIPS // 2)
    inside &= ky * ky + kx * kx >= _LOW_CUT * _LOW_CUT
    return ky % period, kx % period, inside


def _upsample(chips: FloatArray, period: int) -> FloatArray:
    """The band-limited, periodic interpolation of a chip tile to ``period`` pixels."""
    rows, cols, inside = _band(period)
    spectrum = np.zeros((period, period), dtype=np.complex128)
    spectrum[rows[inside], cols[inside]] = np.fft.fft2(chips)[inside]
    return np.fft.ifft2(spectrum).real.astype(_FLOAT)


def _chips_from(folded_spectrum: NDArray[np.complex128], period: int) -> FloatArray:
    """The matched filter: the adjoint of ``_upsample`` applied to a tile's spectrum."""
    rows, cols, inside = _band(period)
    spectrum = np.zeros((CHIPS, CHIPS), dtype=np.complex128)
    spectrum[inside] = folded_spectrum[rows[inside], cols[inside]]
    return np.fft.ifft2(spectrum).real.astype(_FLOAT)


def _payload_bits(payload: bytes) -> NDArray[np.uint8]:
    framed = payload + zlib.crc32(payload).to_bytes(_CRC_BYTES, "big")
    return np.unpackbits(np.frombuffer(framed, dtype=np.uint8))


@lru_cache(maxsize=64)
def _embedded_tile(payload: bytes) -> FloatArray:
    tile = _upsample(_LAYOUT.tile(_payload_bits(payload)), PERIOD)
    unit: FloatArray = (tile / np.sqrt(np.mean(tile * tile))).astype(_FLOAT)
    return unit


def _texture_mask(luminance: Image.Image) -> FloatArray:
    """Per pixel, how much change the picture hides there; its RMS over the image is about 1.

    Measured on a half-size copy, in blocks of ``_MASK_BLOCK`` pixels, and interpolated back in
    8 bits (hundredths): Pillow does the full-size work, which keeps the embedding fast."""
    width, height = luminance.size
    edges = luminance.reduce(2).filter(ImageFilter.FIND_EDGES).reduce(_MASK_BLOCK // 2)
    activity = np.asarray(edges, dtype=_FLOAT)
    activity = np.sqrt(activity / max(float(activity.mean()), 1.0))
    activity = np.clip(activity, _MASK_FLOOR, _MASK_CEILING)
    activity /= np.sqrt(np.mean(activity * activity))
    levels = np.clip(np.rint(activity * 100), 0, 255).astype(np.uint8)
    hundredths = Image.fromarray(levels, mode="L")
    smooth = hundredths.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(smooth, dtype=_FLOAT)


def embed(image: Image.Image, payload: bytes) -> Image.Image:
    """A marked RGB copy of ``image`` carrying ``payload`` (exactly ``PAYLOAD_BYTES``)."""
    if len(payload) != PAYLOAD_BYTES:
        raise ValueError(f"the payload must be {PAYLOAD_BYTES} bytes, not {len(payload)}")
    if min(image.size) < MIN_SIDE:
        raise ValueError(f"an image under {MIN_SIDE} pixels on a side cannot carry the mark")
    rgb = image.convert("RGB")
    width, height = rgb.size
    tile = _embedded_tile(bytes(payload))
    repeats = (-(-height // PERIOD), -(-width // PERIOD))
    delta = np.tile(tile, repeats)[:height, :width]
    delta *= _texture_mask(rgb.convert("L"))
    delta *= STRENGTH / 100
    delta += 128.5
    np.clip(delta, 0, 255, out=delta)
    change = Image.fromarray(delta.astype(np.uint8), mode="L")
    return ImageChops.add(rgb, Image.merge("RGB", (change, change, change)), 1.0, -128)


def _residual(luminance: FloatArray) -> FloatArray:
    """The luminance with the picture mostly removed: a Laplacian, its outliers clipped."""
    residual = np.zeros_like(luminance)
    centre = residual[1:-1, 1:-1]
    centre += luminance[1:-1, 1:-1] * 4
    centre -= luminance[:-2, 1:-1]
    centre -= luminance[2:, 1:-1]
    centre -= luminance[1:-1, :-2]
    centre -= luminance[1:-1, 2:]
    limit = _RESIDUAL_CLIP * max(float(np.abs(centre).mean()), 0.5)
    np.clip(residual, -limit, limit, out=residual)
    return _evened(residual)


def _evened(residual: FloatArray) -> FloatArray:
    """The residual divided by its local level: busy regions, where the picture rather than
    the mark dominates the residual, weigh no more than quiet ones."""
    height, width = residual.shape
    block = _MASK_BLOCK
    rows, cols = height // block, width // block
    if rows == 0 or cols == 0:
        return residual
    level = np.abs(residual[: rows * block, : cols * block])
    level = level.reshape(rows, block, cols, block).mean(axis=(1, 3))
    level += max(float(level.mean()) * 0.25, 0.5)
    weight = np.repeat(np.repeat(1 / level, block, axis=0), block, axis=1)
    evened = np.zeros_like(residual)
    evened[: rows * block, : cols * block] = residual[: rows * block, : cols * block] * weight
    return evened


def _fold(residual: FloatArray, period: int) -> FloatArray:
    height, width = residual.shape
    rows, cols = -(-height // period), -(-width // period)
    padded = np.zeros((rows * period, cols * period), dtype=_FLOAT)
    padded[:height, :width] = residual
    folded: FloatArray = padded.reshape(rows, period, cols, period).sum(axis=(0, 2))
    return folded


@lru_cache(maxsize=8)
def _laplacian_response(period: int) -> FloatArray:
    k = np.fft.fftfreq(period) * 2 * np.pi
    ky, kx = np.meshgrid(k, k, indexing="ij")
    response: FloatArray = (4 - 2 * np.cos(ky) - 2 * np.cos(kx)).astype(_FLOAT)
    return response


@lru_cache(maxsize=8)
def _sync_filter(period: int) -> NDArray[np.complex128]:
    """The conjugate spectrum of the sync pattern as it appears in the residual."""
    sync = np.fft.fft2(_upsample(_LAYOUT.sync_tile, period))
    return np.conj(sync * _laplacian_response(period))


def _measured_period(residual: FloatArray) -> int | None:
    """The tile period seen in the residual's autocorrelation, if one stands out."""
    side = min(512, *residual.shape)
    if side < 4 * CHIPS:
        return None
    top = (residual.shape[0] - side) // 2
    left = (residual.shape[1] - side) // 2
    window = residual[top : top + side, left : left + side]
    power = np.abs(np.fft.rfft2(window)) ** 2
    correlation = np.fft.irfft2(power, s=window.shape)
    lags = np.arange(CHIPS, side // 2)
    score = correlation[lags, 0] + correlation[0, lags]
    best = int(lags[int(np.argmax(score))])
    half = best // 2
    if half >= CHIPS and score[half - CHIPS] > 0.5 * score[best - CHIPS]:
        best = half
    return best


def _shifts(folded_spectrum: NDArray[np.complex128], period: int) -> list[tuple[int, int]]:
    """The strongest alignments of the sync pattern, best first."""
    correlation = np.fft.ifft2(folded_spectrum * _sync_filter(period)).real
    found: list[tuple[int, int]] = []
    for _ in range(_PEAKS):
        row, col = np.unravel_index(int(np.argmax(correlation)), correlation.shape)
        found.append((int(row), int(col)))
        rows = np.arange(row - 2, row + 3) % period
        cols = np.arange(col - 2, col + 3) % period
        correlation[np.ix_(rows, cols)] = -np.inf
    return found


@lru_cache(maxsize=1)
def _flip_patterns() -> NDArray[np.uint8]:
    """Every subset of ``_FLIPS`` bits, fewest first."""
    subsets = (np.arange(1 << _FLIPS)[:, None] >> np.arange(_FLIPS)) & 1
    return subsets[np.argsort(subsets.sum(axis=1), kind="stable")].astype(np.uint8)


def _verified(soft: FloatArray) -> bytes | None:
    """The payload, if the hard bits or the bits with some of the weakest flipped pass the CRC."""
    trials = np.repeat((soft > 0).astype(np.uint8)[None, :], 1 << _FLIPS, axis=0)
    trials[:, np.argsort(np.abs(soft))[:_FLIPS]] ^= _flip_patterns()
    for framed in np.packbits(trials, axis=1):
        payload: bytes = framed[:PAYLOAD_BYTES].tobytes()
        crc: bytes = framed[PAYLOAD_BYTES:].tobytes()
        if zlib.crc32(payload).to_bytes(_CRC_BYTES, "big") == crc:
            return payload
    return None


def _candidate_periods(residual: FloatArray) -> list[int]:
    candidates = [PERIOD, PERIOD // 2]
    measured = _measured_period(residual)
    if measured is not None and measured not in candidates:
        candidates.append(measured)
    return [p for p in candidates if p <= min(residual.shape)]


def candidate_bits(image: Image.Image) -> Iterator[FloatArray]:
    """Soft payload bits (before the CRC check) for each plausible period and alignment."""
    if min(image.size) < CHIPS:
        return
    luminance = np.asarray(image.convert("L"), dtype=_FLOAT)
    residual = _residual(luminance)
    for period in _candidate_periods(residual):
        spectrum = np.fft.fft2(_fold(residual, period))
        k = np.fft.fftfreq(period)
        for row, col in _shifts(spectrum, period):
            phase = np.exp(2j * np.pi * (k[:, None] * row + k[None, :] * col))
            soft = _LAYOUT.soft_bits(_chips_from(spectrum * phase, period))
            yield np.where(_LAYOUT.whitening == 1, -soft, soft).astype(_FLOAT)


def framed_bits(payload: bytes) -> NDArray[np.uint8]:
    """The bits a mark carries for ``payload``: the payload, then its CRC-32."""
    return _payload_bits(payload)


def detect(image: Image.Image) -> bytes | None:
    """The payload marked in ``image``, or None when no mark is found."""
    for soft in candidate_bits(image):
        payload = _verified(soft)
        if payload is not None:
            return payload
    return None


LIMITED_LUMA = 219 / 255
"""Limited-range Y' (16..235) moves this much per level of full-range R', G' and B'."""
_VIDEO_BLOCK = 4
"""The video mask's resolution: one texture level per this many pixels a side."""
_VIDEO_SHIFT = 10
"""The video pattern is held in 1/1024ths of a level of Y' per hundredth of the mask."""
_VIDEO_MASK_FLOOR = 0.5
"""Above the image mask's floor: a frame goes through the engine's own lossy encode before
any re-encode, and the quiet regions, where a low bit rate keeps the most of the mark, carry
more of it (the mean strength is the same). Measured: a 500 kbit/s re-encode of the preview
engine's 720p video reads the payload in 24 of 24 sampled frames (20 of 24 with 0.35)."""


class VideoMark:
    """The invisible mark for a video's frames, drawn straight into their luma planes (Y',
    limited range, as H.264 carries it): the same tile, period and mean strength as
    ``embed``, so ``detect`` reads a frame as it reads an image.

    Adding the same change to R', G' and B' changes Y' alone, by ``LIMITED_LUMA`` of it, so
    the chroma planes are left as they are. What depends only on the payload and the frame
    size, the tiled pattern in fixed point, is made once per video. Per frame, the texture
    mask is measured on a quarter-size luminance (one level per 4x4 pixels, smoothed over
    its neighbours), and the pattern is scaled by it and added in 16-bit integers: no float
    picture at full size."""

    def __init__(self, payload: bytes) -> None:
        if len(payload) != PAYLOAD_BYTES:
            raise ValueError(f"the payload must be {PAYLOAD_BYTES} bytes, not {len(payload)}")
        self.payload = bytes(payload)
        self._size: tuple[int, int] | None = None
        self._pattern: NDArray[np.int16] = np.zeros((0, 0), dtype=np.int16)

    @staticmethod
    def carried_by(width: int, height: int) -> bool:
        """Whether a frame of this size carries the mark (as ``embed``: not under
        ``MIN_SIDE`` pixels on a side)."""
        return min(width, height) >= MIN_SIDE

    def mark_luma(self, luma: NDArray[np.uint8]) -> None:
        """Mark a frame's Y' plane (a 2-D uint8 array, written in place); a frame too small
        to carry the mark is left as it is."""
        height, width = luma.shape
        if not self.carried_by(width, height):
            return
        pattern = self._pattern_for(width, height)
        rows, cols = pattern.shape
        block = _VIDEO_BLOCK
        mask = np.repeat(_frame_mask(luma), block, axis=1)
        change = np.multiply(
            pattern.reshape(rows // block, block, cols),
            mask[:, None, :],
            dtype=np.int16,
        ).reshape(rows, cols)
        change += 1 << (_VIDEO_SHIFT - 1)
        change >>= _VIDEO_SHIFT
        marked = change[:height, :width]
        marked += luma
        np.clip(marked, 0, 255, out=marked)
        luma[...] = marked

    def _pattern_for(self, width: int, height: int) -> NDArray[np.int16]:
        """The tile repeated over the frame (padded to whole mask blocks), in 1/1024ths of a
        level of Y' per hundredth of the mask: at most about 75, so times a mask of at most
        255 it stays in 16 bits."""
        if self._size != (width, height):
            block = _VIDEO_BLOCK
            rows, cols = -(-height // block) * block, -(-width // block) * block
            scale = STRENGTH * LIMITED_LUMA / 100 * (1 << _VIDEO_SHIFT)
            tile = _embedded_tile(self.payload) * scale
            tiled = np.tile(tile, (-(-rows // PERIOD), -(-cols // PERIOD)))[:rows, :cols]
            self._pattern = np.clip(np.rint(tiled), -128, 128).astype(np.int16)
            self._size = (width, height)
        return self._pattern


def _frame_mask(luma: NDArray[np.uint8]) -> NDArray[np.int16]:
    """``_texture_mask`` for a video frame: per 4x4 block (the frame padded to whole blocks),
    in hundredths, how much change the picture hides there, measured as the Laplacian of a
    quarter-size luminance and smoothed over the neighbouring blocks."""
    height, width = luma.shape
    small = Image.fromarray(luma).reduce(_VIDEO_BLOCK)
    level = np.pad(np.asarray(small, dtype=_FLOAT), 1, mode="edge")
    centre = level[1:-1, 1:-1]
    activity = np.abs(
        centre * 4 - level[:-2, 1:-1] - level[2:, 1:-1] - level[1:-1, :-2] - level[1:-1, 2:]
    )
    activity = np.sqrt(activity / max(float(activity.mean()), 1.0))
    np.clip(activity, _VIDEO_MASK_FLOOR, _MASK_CEILING, out=activity)
    padded = np.pad(activity, 1, mode="edge")
    across = padded[:, :-2] + padded[:, 1:-1] * 2 + padded[:, 2:]
    smooth = across[:-2] + across[1:-1] * 2 + across[2:]
    smooth /= np.sqrt(np.mean(smooth * smooth))
    rows, cols = -(-height // _VIDEO_BLOCK), -(-width // _VIDEO_BLOCK)
    hundredths: NDArray[np.int16] = np.clip(np.rint(smooth[:rows, :cols] * 100), 0, 255).astype(
        np.int16
    )
    return hundredths
