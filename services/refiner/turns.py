"""The conversation's segments and per-frame conditions, from the timeline.

**Segments** (CHAT's ``v(k)``): the frame axis ``[0, T)`` is cut into consecutive spans, one per
turn. A turn is a run of consecutive sentences of one speaker (backchannels are not turns).
The cut between turn ``k`` and ``k + 1`` is the middle of the pause between them (the start of
``k + 1`` when they overlap), at frame ``floor(t · 25)`` (DESIGN.md §2). The first span starts
at frame 0 and the last ends at ``T``. Both speakers share the same spans (the turn holder
speaks, the other listens), so TCR blends both at the same boundaries. Spans shorter than
``min_frames`` join the previous one; spans longer than ``max_frames`` are split evenly. A
timeline without sentences gives one span held by nobody.

**Frame conditions** of a speaker ``s`` ``[T, 20]`` (relative to ``s``): own sentence, own
backchannel, partner sentence, partner backchannel (0/1), then own and partner emotion as
``one_hot(category) · intensity`` (8 + 8). A speaker's emotion is held from the start of each
of their sentences until the start of their next one (before the first: the first one's).
``OWN_DIMS`` are the own part, the rest the partner's (dropped with the partner conditions).

**Identity ids** of a speaker: own age band, partner age band (``AGE_BANDS`` index, 5 =
unknown) and the relation (``2·blood + equal``, 4 = unknown).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from dyad.domain import AGE_BANDS, EMOTIONS, Timeline
from dyad.timebase import FPS

FRAME_DIMS = 4 + 2 * len(EMOTIONS)  # 20
OWN_DIMS = (0, 1, *range(4, 4 + len(EMOTIONS)))  # own activity and emotion
PARTNER_DIMS = tuple(i for i in range(FRAME_DIMS) if i not in OWN_DIMS)
UNKNOWN_AGE = len(AGE_BANDS)  # 5
UNKNOWN_RELATION = 4
OTHER = {"a": "b", "b": "a"}


@dataclass(frozen=True)
class Span:
    """Frames ``[start, end)`` of one turn; ``speaker`` holds it (None: nobody speaks)."""

    start: int
    end: int
    speaker: str | None

    @property
    def frames(self) -> int:
        return self.end - self.start


def frame_of(seconds: float, num_frames: int) -> int:
    """``floor(t · fps)`` clamped to ``[0, num_frames]``."""
    return int(min(max(np.floor(round(seconds * FPS, 9)), 0), num_frames))


def turn_spans(
    timeline: Timeline, num_frames: int, *, min_frames: int = 20, max_frames: int = 250
) -> list[Span]:
    """The conversation's spans (module doc); they tile ``[0, num_frames)``."""
    if num_frames <= 0:
        return []
    turns: list[list] = []  # [speaker, start_s, end_s]
    for s in sorted(timeline.segments, key=lambda s: s.start_s):
        if s.kind != "sentence":
            continue
        if turns and turns[-1][0] == s.speaker:
            turns[-1][2] = max(turns[-1][2], s.end_s)
        else:
            turns.append([s.speaker, s.start_s, s.end_s])
    if not turns:
        return _split([Span(0, num_frames, None)], max_frames)
    cuts = [0]
    for prev, nxt in itertools.pairwise(turns):
        at = nxt[1] if nxt[1] <= prev[2] else (prev[2] + nxt[1]) / 2
        cuts.append(max(frame_of(at, num_frames), cuts[-1]))
    cuts.append(num_frames)
    spans = [Span(a, b, t[0]) for a, b, t in zip(cuts[:-1], cuts[1:], turns, strict=True) if b > a]
    merged: list[Span] = []
    for sp in spans:
        if merged and (sp.frames < min_frames or merged[-1].frames < min_frames):
            last = merged.pop()
            holder = last.speaker if last.frames >= sp.frames else sp.speaker
            sp = Span(last.start, sp.end, holder)
        merged.append(sp)
    return _split(merged, max_frames)


def _split(spans: list[Span], max_frames: int) -> list[Span]:
    out = []
    for sp in spans:
        n = -(-sp.frames // max_frames)
        edges = np.linspace(sp.start, sp.end, n + 1).round().astype(int)
        out += [Span(int(a), int(b), sp.speaker) for a, b in itertools.pairwise(edges)]
    return out


def boundaries(spans: list[Span]) -> list[int]:
    """The first frame of every span but the first (where TCR blends)."""
    return [sp.start for sp in spans[1:]]


def silent_gaps(spans: list[Span], speaker: str) -> list[tuple[int, int]]:
    """Frame ranges where ``speaker`` does not hold the turn (consecutive spans merged)."""
    gaps: list[tuple[int, int]] = []
    for sp in spans:
        if sp.speaker == speaker:
            continue
        if gaps and gaps[-1][1] == sp.start:
            gaps[-1] = (gaps[-1][0], sp.end)
        else:
            gaps.append((sp.start, sp.end))
    return gaps


def _activity(timeline: Timeline, speaker: str, kind: str, num_frames: int) -> np.ndarray:
    out = np.zeros(num_frames, np.float32)
    for s in timeline.segments:
        if s.speaker == speaker and s.kind == kind:
            a, b = frame_of(s.start_s, num_frames), frame_of(s.end_s, num_frames)
            out[a : max(b, a + 1)] = 1.0
    return out


def _emotion(timeline: Timeline, speaker: str, num_frames: int) -> np.ndarray:
    out = np.zeros((num_frames, len(EMOTIONS)), np.float32)
    sents = [s for s in timeline.segments if s.speaker == speaker and s.kind == "sentence"]
    sents.sort(key=lambda s: s.start_s)
    for i, s in enumerate(sents):
        a = 0 if i == 0 else frame_of(s.start_s, num_frames)
        b = num_frames if i + 1 == len(sents) else frame_of(sents[i + 1].start_s, num_frames)
        out[a:b] = 0.0
        out[a:b, EMOTIONS.index(s.emotion.category)] = s.emotion.intensity
    return out


def frame_conditions(timeline: Timeline, num_frames: int) -> dict[str, np.ndarray]:
    """``{"a": [T, 20], "b": [T, 20]}``, each relative to that speaker (module doc)."""
    parts = {}
    for spk in ("a", "b"):
        parts[spk] = (
            _activity(timeline, spk, "sentence", num_frames),
            _activity(timeline, spk, "backchannel", num_frames),
            _emotion(timeline, spk, num_frames),
        )
    out = {}
    for spk in ("a", "b"):
        own, other = parts[spk], parts[OTHER[spk]]
        out[spk] = np.concatenate(
            [np.stack([own[0], own[1], other[0], other[1]], 1), own[2], other[2]], axis=1
        ).astype(np.float32)
    return out


def identity_ids(timeline: Timeline, speaker: str, relation_known: bool = True) -> np.ndarray:
    """``[3]`` int64: own age band, partner age band, relation (module doc)."""

    def age(spk: str) -> int:
        ident = timeline.speakers.get(spk)
        return AGE_BANDS.index(ident.age_band) if ident is not None else UNKNOWN_AGE

    rel = timeline.relation
    rel_id = 2 * int(rel.blood) + int(rel.equal) if relation_known else UNKNOWN_RELATION
    return np.array([age(speaker), age(OTHER[speaker]), rel_id], np.int64)
