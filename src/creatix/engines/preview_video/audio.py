"""A synthesized soundtrack: a soft ambient pad over a chord progression, with a light beat for
background music. Deterministic from the seed, made a chunk at a time (never the whole track).

Each sound is a plain sum of sines under an envelope, evaluated at absolute sample times, so
chunks join without clicks whatever their length. The pad holds each chord of the progression
for one bar and crossfades into the next; ``music`` adds a soft kick on beats one and three,
an eighth-note arpeggio of plucks an octave up, and a faint shaker on the off-beats. The
whole track fades in and out and is soft-clipped well under full scale.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from random import Random

import numpy as np

SAMPLE_RATE = 48_000
CHANNELS = 2

PROGRESSIONS: tuple[tuple[tuple[int, ...], ...], ...] = (
    ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)),  # I V vi IV
    ((9, 12, 16), (5, 9, 12), (0, 4, 7), (7, 11, 14)),  # vi IV I V
    ((0, 4, 7, 11), (5, 9, 12, 16), (9, 12, 16, 19), (7, 11, 14, 17)),  # Imaj7 IVmaj7 vi7 V7
    ((0, 3, 7), (8, 12, 15), (3, 7, 10), (10, 14, 17)),  # i VI III VII
)
"""Chords as semitones above the key's root."""
ROOTS = (45, 46, 47, 48, 49, 50, 51, 52)
"""MIDI notes A2..E3: the key's root, an octave below the pad's middle."""
PAD_PARTIALS = ((1.0, 1.0), (2.0, 0.28), (3.0, 0.08))
"""(multiple of the note's frequency, level) for each pad voice."""
DETUNE = 0.0018
"""Left and right voices are detuned this share apart: a slow chorus, and width."""
PLUCK_SECONDS = 0.45
KICK_SECONDS = 0.35
SHAKER_SECONDS = 0.06
FADE_IN_SECONDS = 1.0
FADE_OUT_SECONDS = 1.5
LEVEL = 0.55
"""The mix's peak, before the soft clip: about -5 dBFS."""


def midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


@dataclass(frozen=True)
class Hit:
    """One short sound: ``kind`` at ``start`` seconds."""

    kind: str
    start: float
    hz: float = 0.0
    level: float = 1.0


@dataclass(frozen=True)
class Score:
    """What plays: the chords (one per bar), the tempo and, with music, the hits."""

    seconds: float
    bar_seconds: float
    chords: tuple[tuple[float, ...], ...]
    """Each chord's pad frequencies, cycled bar after bar."""
    music: bool
    hits: tuple[Hit, ...] = field(default=())
    tremolo_hz: float = 0.15
    tremolo_phase: float = 0.0


def audio_rng(seed: int) -> Random:
    material = b"creatix.preview_video.audio\x1f" + seed.to_bytes(4, "big")
    return Random(int.from_bytes(hashlib.sha256(material).digest(), "big"))


def compose(seed: int, seconds: float, *, music: bool) -> Score:
    """The score of a ``seconds`` track: ambient (a slow pad) or ``music`` (a pad and a beat)."""
    rng = audio_rng(seed)
    root = rng.choice(ROOTS)
    progression = rng.choice(PROGRESSIONS)
    bpm = rng.uniform(84, 104)
    beat = 60.0 / bpm
    # Ambient chords last two bars' worth of slow beats; music changes chord every bar.
    bar_seconds = 4 * beat if music else 8 * beat
    chords = tuple(tuple(midi_hz(root + 12 + step) for step in chord) for chord in progression)
    tremolo_hz = rng.uniform(0.08, 0.2)
    tremolo_phase = rng.uniform(0, 2 * math.pi)
    hits: list[Hit] = []
    if music:
        pattern = rng.choice(((0, 1, 2, 1), (0, 1, 2, 3), (0, 2, 1, 2), (2, 1, 0, 1)))
        eighths = math.ceil(seconds / (beat / 2))
        for n in range(eighths):
            start = n * beat / 2
            bar = int(start // bar_seconds)
            chord = progression[bar % len(progression)]
            if n % 4 == 0:
                hits.append(Hit("kick", start, level=1.0 if n % 8 == 0 else 0.8))
            if n % 2 == 1:
                hits.append(Hit("shaker", start, level=0.6 + 0.4 * rng.random()))
            step = chord[pattern[n % len(pattern)] % len(chord)]
            hits.append(Hit("pluck", start, midi_hz(root + 24 + step), 0.7 + 0.3 * rng.random()))
    return Score(
        seconds=seconds,
        bar_seconds=bar_seconds,
        chords=chords,
        music=music,
        hits=tuple(hits),
        tremolo_hz=tremolo_hz,
        tremolo_phase=tremolo_phase,
    )


class Synth:
    """Renders a ``Score`` in order, one chunk of samples at a time."""

    def __init__(self, score: Score, seed: int) -> None:
        self.score = score
        self.total = round(score.seconds * SAMPLE_RATE)
        self.done = 0
        noise_rng = np.random.default_rng(seed)
        white = noise_rng.standard_normal(round(SHAKER_SECONDS * SAMPLE_RATE) + 1)
        self._noise = np.diff(white).astype(np.float32)  # differenced: brighter, like a shaker
        self._hit_index = 0

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    def chunks(self, chunk: int = 4096) -> Iterator[np.ndarray]:
        while not self.finished:
            yield self.render_until(min(self.total, self.done + chunk))

    def render_until(self, end: int) -> np.ndarray:
        """Samples ``done..end`` as a (2, n) float32 array in -1..1; advances ``done``."""
        start, end = self.done, min(end, self.total)
        self.done = max(start, end)
        n = max(0, end - start)
        t = (start + np.arange(n, dtype=np.float64)) / SAMPLE_RATE
        out = np.zeros((CHANNELS, n), dtype=np.float64)
        if n == 0:
            return out.astype(np.float32)
        self._pad(t, out)
        if self.score.music:
            self._hits(t, out)
        out *= self._fades(t)
        return (np.tanh(out * 1.2) * LEVEL / math.tanh(1.2)).astype(np.float32)

    def _pad(self, t: np.ndarray, out: np.ndarray) -> None:
        score = self.score
        bar = score.bar_seconds
        crossfade = bar * 0.35
        first = max(0, int((t[0] - crossfade) // bar))
        last = int(t[-1] // bar) + 1
        tremolo = 0.8 + 0.2 * np.sin(2 * np.pi * score.tremolo_hz * t + score.tremolo_phase)
        for index in range(first, last + 1):
            begin, finish = index * bar, (index + 1) * bar
            envelope = _window(t, begin - crossfade / 2, finish + crossfade / 2, crossfade)
            if not envelope.any():
                continue
            chord = score.chords[index % len(score.chords)]
            voice_level = (0.28 if score.music else 0.4) / len(chord)
            for hz in chord:
                for channel, detune in enumerate((1 - DETUNE, 1 + DETUNE)):
                    for multiple, level in PAD_PARTIALS:
                        phase = 2 * np.pi * hz * detune * multiple * t
                        out[channel] += voice_level * level * envelope * tremolo * np.sin(phase)

    def _hits(self, t: np.ndarray, out: np.ndarray) -> None:
        hits = self.score.hits
        t0, t1 = float(t[0]), float(t[-1])
        longest = max(PLUCK_SECONDS, KICK_SECONDS, SHAKER_SECONDS)
        # Hits are in time order: skip those that ended before this chunk, for good.
        while self._hit_index < len(hits) and hits[self._hit_index].start + longest < t0:
            self._hit_index += 1
        for hit in hits[self._hit_index :]:
            if hit.start > t1:
                break
            local = t - hit.start
            live = (local >= 0) & (local < _length(hit.kind))
            if not live.any():
                continue
            x = local[live]
            sound = self._sound(hit, x)
            if hit.kind == "pluck":  # plucks alternate sides a little
                pan = 0.35 if int(hit.start * 8) % 2 else -0.35
                out[0, live] += sound * (1 - pan)
                out[1, live] += sound * (1 + pan)
            else:
                out[:, live] += sound

    def _sound(self, hit: Hit, x: np.ndarray) -> np.ndarray:
        if hit.kind == "kick":
            # A sine sweeping 120 Hz down to 45 Hz: phase is the integral of the frequency.
            decay = 18.0
            sweep = 45 * x + (120 - 45) * (1 - np.exp(-decay * x)) / decay
            attack = np.minimum(1.0, x / 0.003)
            return 0.7 * hit.level * attack * np.exp(-x / 0.12) * np.sin(2 * np.pi * sweep)
        if hit.kind == "shaker":
            index = np.minimum((x * SAMPLE_RATE).astype(np.int64), self._noise.size - 1)
            return 0.04 * hit.level * np.exp(-x / 0.015) * self._noise[index]
        attack = np.minimum(1.0, x / 0.006)
        body = np.sin(2 * np.pi * hit.hz * x) + 0.25 * np.sin(4 * np.pi * hit.hz * x)
        return 0.16 * hit.level * attack * np.exp(-x / 0.16) * body

    def _fades(self, t: np.ndarray) -> np.ndarray:
        seconds = self.score.seconds
        fade_in = min(FADE_IN_SECONDS, seconds / 3)
        fade_out = min(FADE_OUT_SECONDS, seconds / 3)
        rise = np.clip(t / fade_in, 0, 1)
        fall = np.clip((seconds - t) / fade_out, 0, 1)
        return np.asarray(_smooth(rise) * _smooth(fall))


def _length(kind: str) -> float:
    return {"kick": KICK_SECONDS, "shaker": SHAKER_SECONDS}.get(kind, PLUCK_SECONDS)


def _smooth(x: np.ndarray) -> np.ndarray:
    return np.asarray(x * x * (3 - 2 * x))


def _window(t: np.ndarray, begin: float, end: float, fade: float) -> np.ndarray:
    """1 between ``begin + fade`` and ``end - fade``, smooth ramps to 0 at ``begin``/``end``."""
    rise = np.clip((t - begin) / fade, 0, 1)
    fall = np.clip((end - t) / fade, 0, 1)
    return np.asarray(_smooth(np.minimum(rise, fall)))
