"""Behaviour rules of the procedural animator: who talks when, emotions, relationship scale,
blinks, gaze and nods. Pure numpy; every random choice comes from the caller's generator.

Conventions (shared with ``procedural``): head angles are radians in the face's own right-handed
frame (x towards the subject's left, y up, z out of the face — ARKit's face anchor and FLAME's
frame). ``headPitch > 0`` tilts the head down (a nod goes down first), ``headYaw > 0`` turns
towards the subject's own left, ``headRoll > 0`` tilts the top of the head towards the subject's
right. Gaze is ``(h, v)`` in eyeLook units: ``h > 0`` towards the subject's left
(eyeLookOutLeft + eyeLookInRight), ``v > 0`` up. In the side-by-side composite A sits on the
left and B on the right, so A's partner is towards A's own left (+1) and B's towards B's right
(−1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from dyad.domain import EMOTIONS, Identity, Relation, Timeline
from dyad.rigs import ARKIT_BLENDSHAPES
from dyad.timebase import FPS

from .signal import bump, interval_mask, smooth

BS = {name: i for i, name in enumerate(ARKIT_BLENDSHAPES)}
PARTNER_SIDE = {"a": 1.0, "b": -1.0}


def _table(rows: dict[str, dict[str, float]]) -> np.ndarray:
    """category → {channel: weight} as ``[8, 52]`` (channels named once, ``*`` = Left and Right)."""
    out = np.zeros((len(EMOTIONS), len(ARKIT_BLENDSHAPES)))
    for cat, weights in rows.items():
        for name, w in weights.items():
            for full in (
                (name[:-1] + "Left", name[:-1] + "Right") if name.endswith("*") else (name,)
            ):
                out[EMOTIONS.index(cat), BS[full]] = w
    return out


#: The speaker's own expression per emotion at intensity 1.
SPEAKER_EXPRESSION = _table(
    {
        "happy": {"mouthSmile*": 0.6, "cheekSquint*": 0.35, "eyeSquint*": 0.2, "mouthDimple*": 0.1},
        "sad": {
            "mouthFrown*": 0.45,
            "browInnerUp": 0.5,
            "mouthShrugLower": 0.15,
            "eyeLookDown*": 0.1,
        },
        "angry": {"browDown*": 0.55, "noseSneer*": 0.25, "mouthPress*": 0.25, "eyeSquint*": 0.2},
        "surprised": {"browInnerUp": 0.5, "browOuterUp*": 0.5, "eyeWide*": 0.4},
        "fearful": {
            "browInnerUp": 0.55,
            "browOuterUp*": 0.15,
            "eyeWide*": 0.35,
            "mouthStretch*": 0.25,
        },
        "disgusted": {
            "noseSneer*": 0.45,
            "mouthUpperUp*": 0.25,
            "browDown*": 0.3,
            "cheekSquint*": 0.15,
        },
        "contempt": {
            "mouthSmileLeft": 0.3,
            "mouthDimpleLeft": 0.2,
            "eyeSquint*": 0.1,
            "browDown*": 0.1,
        },
    }
)
#: The listener's response to the partner's emotion at intensity 1 (CHAT §4.3, responsive
#: behaviour): mirror joy, concern for sadness, fear and anger, raised brows for surprise.
LISTENER_RESPONSE = _table(
    {
        "happy": {"mouthSmile*": 0.45, "cheekSquint*": 0.25, "eyeSquint*": 0.1},
        "sad": {"browInnerUp": 0.45, "mouthFrown*": 0.2},
        "angry": {"browInnerUp": 0.25, "browDown*": 0.2, "mouthPress*": 0.2},
        "surprised": {"browInnerUp": 0.35, "browOuterUp*": 0.45, "eyeWide*": 0.25},
        "fearful": {"browInnerUp": 0.45, "eyeWide*": 0.15, "mouthPress*": 0.1},
        "disgusted": {"noseSneer*": 0.15, "browDown*": 0.25, "mouthFrown*": 0.1},
        "contempt": {"browDown*": 0.15, "mouthPress*": 0.15},
    }
)
#: Head posture per emotion (pitch, roll) in radians at intensity 1: sad droops, surprise lifts.
EMOTION_POSTURE = np.zeros((len(EMOTIONS), 2))
for _cat, (_p, _r) in {
    "sad": (0.07, 0.02),
    "surprised": (-0.04, 0.0),
    "angry": (0.03, 0.0),
    "fearful": (0.02, 0.0),
    "contempt": (-0.03, 0.03),
}.items():
    EMOTION_POSTURE[EMOTIONS.index(_cat)] = (_p, _r)

_AGE_RANK = {"child": 0, "teen": 1, "young_adult": 2, "adult": 3, "senior": 4}


def relation_scales(
    relation: Relation,
    speakers: dict[str, Identity],
    table: tuple[float, float, float, float],
    subordinate: float,
) -> dict[str, float]:
    """Expressiveness per speaker from RSATalker's axes.

    ``table`` is (blood & equal, non-blood & equal, blood & unequal, non-blood & unequal).
    In an unequal pair the elder (by ``age_band``) is taken as the senior side and the other is
    scaled by ``subordinate`` (deference is the more restrained); with no age difference the
    roles are unknown and both keep the pair's value.
    """
    base = table[(0 if relation.equal else 2) + (0 if relation.blood else 1)]
    out = {"a": base, "b": base}
    if not relation.equal and "a" in speakers and "b" in speakers:
        ra = _AGE_RANK.get(speakers["a"].age_band, 3)
        rb = _AGE_RANK.get(speakers["b"].age_band, 3)
        if ra != rb:
            out["b" if ra > rb else "a"] = base * subordinate
    return out


@dataclass(frozen=True)
class Roles:
    """Per-frame (25 fps) view of the timeline from one speaker's side."""

    speaking: np.ndarray  # bool: own sentence or backchannel
    own_sentence: np.ndarray  # bool
    listening: np.ndarray  # bool: partner's sentence, not speaking
    own_emotion: np.ndarray  # [T, 8] intensity of own emotion, held over own sentences
    partner_emotion: np.ndarray  # [T, 8] partner's emotion, held over partner's sentences
    own_starts: list[float]  # own sentence starts (s)
    partner_ends: list[float]  # partner sentence ends (s)
    partner_sentences: list[tuple[float, float]]
    backchannels: list[tuple[float, float]]  # own backchannels (s)


def read_roles(timeline: Timeline, speaker: str, num_frames: int) -> Roles:
    """The timeline's segments as frame masks and emotion tracks for ``speaker``."""
    own = [s for s in timeline.segments if s.speaker == speaker]
    other = [s for s in timeline.segments if s.speaker != speaker and s.kind == "sentence"]
    own_sent = [s for s in own if s.kind == "sentence"]
    spans = [(s.start_s, s.end_s) for s in own]
    speaking = interval_mask(spans, num_frames, FPS)
    partner = interval_mask([(s.start_s, s.end_s) for s in other], num_frames, FPS)

    def emotions(segs: list, lead: float, hold: float) -> np.ndarray:
        out = np.zeros((num_frames, len(EMOTIONS)))
        for s in segs:
            m = interval_mask([(s.start_s - lead, s.end_s + hold)], num_frames, FPS)
            k = EMOTIONS.index(s.emotion.category)
            out[m, k] = np.maximum(out[m, k], s.emotion.intensity)
        return out

    return Roles(
        speaking=speaking,
        own_sentence=interval_mask([(s.start_s, s.end_s) for s in own_sent], num_frames, FPS),
        listening=partner & ~speaking,
        own_emotion=emotions(own_sent, 0.3, 0.5),
        partner_emotion=emotions(other, -0.5, 0.8),  # the listener reacts after ~0.5 s
        own_starts=[s.start_s for s in own_sent],
        partner_ends=[s.end_s for s in other],
        partner_sentences=[(s.start_s, s.end_s) for s in other],
        backchannels=[(s.start_s, s.end_s) for s in own if s.kind == "backchannel"],
    )


def blink_curve(
    num_frames: int,
    rate_per_min: np.ndarray,
    rng: np.random.Generator,
    refractory_s: float,
) -> np.ndarray:
    """Blinks as a renewal process in rescaled time: each interval needs a Gamma(6)-distributed
    amount of integrated rate (regular-ish, CV 0.4), so a per-frame rate ``[T]`` (blinks per
    minute, lower while speaking) is followed closely. A blink is 5–6 frames (0.20–0.24 s):
    one frame half closed, one fully closed, then a slower 3–4 frame opening."""
    out = np.zeros(num_frames)
    need = rng.gamma(6.0, 1 / 6)
    acc, last = 0.0, -1e9
    refractory = round(refractory_s * FPS)
    for t in range(num_frames):
        acc += rate_per_min[t] / 60.0 / FPS
        if acc >= need and t - last >= refractory:
            amp = rng.uniform(0.92, 1.0)
            opening = (0.7, 0.35, 0.1) if rng.random() < 0.5 else (0.8, 0.55, 0.3, 0.1)
            shape = np.array((rng.uniform(0.5, 0.65), 1.0, *opening)) * amp
            seg = out[t : t + shape.size]
            seg[:] = np.maximum(seg, shape[: seg.size])
            acc, last, need = 0.0, t, rng.gamma(6.0, 1 / 6)
    return out


def gaze_path(
    num_frames: int,
    speaking: np.ndarray,
    listening: np.ndarray,
    own_starts: list[float],
    side: float,
    partner_gaze: float,
    p_partner: tuple[float, float, float],
    rng: np.random.Generator,
) -> np.ndarray:
    """Fixations and saccades, ``[T, 2]`` (h, v). Fixations on the partner (``side ·
    partner_gaze``) with probability ``p_partner`` = (listening, speaking, idle); elsewhere a
    glance away — up and aside when speaking (thinking), aside or down otherwise. Partner
    fixations last longer while listening (1.5–4 s) than while speaking (0.8–2 s), so with the
    defaults a listener looks at the partner ~80 % of the time and a speaker ~40 % (Argyle's
    classic proportions are ~75 % and ~40 %). A new own sentence starts with a glance away
    (turn-initial gaze aversion) 70 % of the time. Micro-saccades (±0.03) every 0.4–1 s keep
    the eyes alive within a fixation."""
    out = np.zeros((num_frames, 2))
    turn_starts = {int(s * FPS) for s in own_starts}
    t = 0
    while t < num_frames:
        mode = 0 if listening[t] else (1 if speaking[t] else 2)
        think = any(0 <= t - s < 8 for s in turn_starts)
        if rng.random() < (0.3 if think else p_partner[mode]):
            target = np.array([side * partner_gaze, 0.0])
            dur = rng.uniform(*((1.5, 4.0), (0.8, 2.0), (1.0, 3.0))[mode])
        else:
            h = rng.uniform(-0.4, 0.4)
            if abs(h - side * partner_gaze) < 0.12:
                h -= side * 0.2
            v = (
                rng.uniform(0.08, 0.3)
                if mode == 1 and rng.random() < 0.6
                else -rng.uniform(0, 0.25)
            )
            target, dur = np.array([h, v]), rng.uniform(*((0.4, 1.2), (0.6, 1.8), (0.4, 1.2))[mode])
        end = min(num_frames, t + max(int(dur * FPS), 3))
        # stop at a change of role, so a new turn gets its own fixation
        change = np.flatnonzero(
            (speaking[t:end] != speaking[t]) | (listening[t:end] != listening[t])
        )
        if change.size and change[0] > 2:
            end = t + int(change[0])
        u = t
        while u < end:
            step = min(end, u + int(rng.uniform(0.4, 1.0) * FPS))
            out[u:step] = target + rng.normal(0.0, 0.03, 2) * (u > t)
            u = step
        t = end
    return out


def gaze_channels(gaze: np.ndarray) -> dict[str, np.ndarray]:
    """(h, v) → the eight eyeLook blendshapes (both eyes turn the same way)."""
    h, v = gaze[:, 0], gaze[:, 1]
    left, right, up, down = (np.clip(x, 0, 1) for x in (h, -h, v, -v))
    return {
        "eyeLookOutLeft": left,
        "eyeLookInRight": left,
        "eyeLookInLeft": right,
        "eyeLookOutRight": right,
        "eyeLookUpLeft": up,
        "eyeLookUpRight": up,
        "eyeLookDownLeft": down,
        "eyeLookDownRight": down,
    }


def phrase_pauses(
    active: np.ndarray, sentences: list[tuple[float, float]], min_pause_s: float
) -> list[float]:
    """Starts (s) of the silent gaps ≥ ``min_pause_s`` inside the partner's sentences, read from
    the partner's own audio activity (100 Hz): the internal phrase ends."""
    out: list[float] = []
    rate = 100.0
    for start, end in sentences:
        i0, i1 = int(start * rate), min(int(end * rate), active.size)
        seg = active[i0:i1]
        if seg.size == 0:
            continue
        edges = np.diff(seg.astype(np.int8))
        offs, ons = np.flatnonzero(edges == -1) + 1, np.flatnonzero(edges == 1) + 1
        for off in offs:
            nxt = ons[ons > off]
            if nxt.size and (nxt[0] - off) / rate >= min_pause_s:
                out.append(float((i0 + off) / rate))
    return out


def listener_nods(
    num_frames: int,
    roles: Roles,
    pauses: list[float],
    gain: float,
    p_end: float,
    p_pause: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Head-pitch nods ``[T]`` (rad): after the partner's sentence ends (probability ``p_end``,
    sometimes a double nod), with the listener's own backchannels and at internal pauses
    (``p_pause``, smaller, not while speaking). Latency 50–250 ms, 0.4–0.55 s per nod.
    Sentence-end nods always happen; the others only 0.6 s or more away from any other nod."""
    ends = [e + rng.uniform(0.05, 0.25) for e in roles.partner_ends if rng.random() < p_end]
    others = [(s + rng.uniform(0.0, 0.1), 0.8) for s, _ in roles.backchannels]
    for p in pauses:
        if rng.random() < p_pause and not roles.speaking[min(int(p * FPS), num_frames - 1)]:
            others.append((p + rng.uniform(0.05, 0.2), 0.7))
    events = [(t, 1.0) for t in ends]
    for time_s, weight in sorted(others):
        if all(abs(time_s - t) >= 0.6 for t, _ in events):
            events.append((time_s, weight))
    out = np.zeros(num_frames)
    for time_s, weight in events:
        dur, amp = rng.uniform(0.4, 0.55), gain * weight * rng.uniform(0.8, 1.2)
        out += bump(num_frames, time_s, dur, amp)
        if weight == 1.0 and rng.random() < 0.25:  # a double nod
            out += bump(num_frames, time_s + dur * 0.9, dur * 0.8, amp * 0.5)
    return out


def sway(num_frames: int, amp: float, rng: np.random.Generator) -> np.ndarray:
    """Posture sway ``[T, 3]`` (pitch, yaw, roll): three incommensurate sinusoids per axis, the
    fastest at 0.35–0.55 Hz so that any 3 s window moves (a listener is never frozen)."""
    t = np.arange(num_frames) / FPS
    out = np.zeros((num_frames, 3))
    for axis, axis_amp in enumerate((1.0, 1.4, 0.6)):
        for lo, hi, rel in ((0.07, 0.15, 1.0), (0.18, 0.3, 0.7), (0.35, 0.55, 0.55)):
            f, ph = rng.uniform(lo, hi), rng.uniform(0, 2 * np.pi)
            out[:, axis] += amp * axis_amp * rel * np.sin(2 * np.pi * f * t + ph)
    return out


def speaking_accents(
    loudness: np.ndarray,
    own_sentence: np.ndarray,
    gains: tuple[float, float, float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head pitch, head roll and brow raise ``[T]`` each from loudness accents (25 fps
    ``loudness``) inside the speaker's own sentences. An accent is a peak of the syllabic
    envelope at least 0.08 over its 1 s mean, 0.32 s or more after the previous one; it gives a
    small nod and a tilt to a random side, and a strong one (strength > 0.5) a brow raise 60 %
    of the time. ``gains`` = (nod, tilt, brow) at full strength."""
    num_frames = loudness.size
    syll = smooth(loudness, FPS, 0.06)
    prominence = syll - uniform_filter1d(syll, FPS)
    peaks, _ = find_peaks(prominence, height=0.08, distance=8)
    pitch, roll, brow = (np.zeros(num_frames) for _ in range(3))
    for p in peaks[own_sentence[peaks]]:
        s = float(np.clip(prominence[p] / 0.3, 0.3, 1.0))
        t0 = p / FPS - 0.12
        pitch += bump(num_frames, t0, rng.uniform(0.4, 0.5), gains[0] * s)
        roll += bump(num_frames, t0, rng.uniform(0.7, 0.9), rng.choice((-1, 1)) * s * gains[1])
        if s > 0.5 and rng.random() < 0.6:
            brow += bump(num_frames, t0, rng.uniform(0.4, 0.5), gains[2] * s)
    return pitch, roll, brow
