"""Bring your own audio: a recorded two-person conversation → the same ``Timeline`` the
text-to-speech path produces, so the rest of the pipeline can animate real conversations.

The input is DualTalk's setting: one recording channel (or file) per speaker — channel 0 is
speaker A, channel 1 speaker B. Speech is found per channel by frame energy (``VadParams``):
levels in dB above an adaptive per-channel noise floor (a low percentile of the recording),
hysteresis, cross-talk rejection, merging of short gaps and dropping of blips. Each resulting
segment is a ``sentence`` or, when short and inside the other speaker's speech, a
``backchannel``; sentences are grouped into turns, and an optional transcript fills in text.

Cross-talk: each mic also hears the other speaker, some ``c`` dB quieter (the coupling, about
−20 dB for close mics). The coupling is measured from frames where the other speaker clearly
dominates; a frame is A's speech only if A's channel is active and either B's channel is not,
or A's level exceeds what B's bleed explains (B's level + c) by ``bleed_margin_db``. With a
coupling of 0 dB that is the plain "A louder than B by 6 dB" rule; with real couplings it also
keeps genuine overlaps (a backchannel over the other's sentence) for both speakers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dyad.domain import SPEAKERS, Identity, Relation, Segment, SpeakerId, Timeline
from dyad.errors import InvalidInput
from dyad.media.audio import check_rate, check_samples, load_audio, read_wav, resample
from dyad.timebase import SAMPLE_RATE as RATE

#: Tracks whose lengths differ by more than this are not the same recording.
MAX_MISMATCH_S = 1.0
Interval = tuple[float, float]
PAIRS: tuple[tuple[SpeakerId, SpeakerId], ...] = (("a", "b"), ("b", "a"))


@dataclass(frozen=True)
class VadParams:
    """Voice-activity parameters (times in seconds, levels in dB).

    frame_s, hop_s: energy frames of 20 ms every 10 ms (frame_s a multiple of hop_s).
    floor_percentile: a channel's noise floor is this percentile of its frame levels — it
        needs that share of the recording to be free of both speech and bleed.
    min_level_dbfs: frame levels are clipped from below here (digital silence is not −inf).
    gate_dbfs: frames quieter than this (absolute, dB full scale) are never speech.
    start_db, end_db: hysteresis — a channel turns active above floor + start_db and stays
        active until it drops below floor + end_db (end_db < start_db).
    bleed_margin_db: how far above the other channel's expected bleed a frame must be.
    coupling_percentile: the coupling (bleed level relative to the source) is this low
        percentile of the level difference over frames the other channel dominates.
    max_coupling_db: couplings are assumed at most this (the mics favour their own speaker).
    pause_s: gaps shorter than this within one speaker's speech are merged.
    min_speech_s: merged segments shorter than this are dropped (clicks, breaths).
    backchannel_max_s: a segment shorter than this (≤ 1.2 s) inside the other speaker's
        speech — overlapping it, or with it within backchannel_slack_s on both sides — is a
        backchannel.
    """

    frame_s: float = 0.02
    hop_s: float = 0.01
    floor_percentile: float = 10.0
    min_level_dbfs: float = -90.0
    gate_dbfs: float = -65.0
    start_db: float = 12.0
    end_db: float = 6.0
    bleed_margin_db: float = 6.0
    coupling_percentile: float = 10.0
    max_coupling_db: float = -10.0
    pause_s: float = 0.35
    min_speech_s: float = 0.12
    backchannel_max_s: float = 1.0
    backchannel_slack_s: float = 0.3

    def __post_init__(self) -> None:
        ratio = self.frame_s / self.hop_s
        checks = [
            (name, 0.0 < getattr(self, name) <= 10.0, "must be in (0, 10] seconds")
            for name in ("frame_s", "hop_s", "pause_s", "min_speech_s", "backchannel_max_s")
        ] + [
            ("frame_s", ratio >= 1 and abs(ratio - round(ratio)) < 1e-6, "a multiple of hop_s"),
            ("end_db", 0.0 <= self.end_db < self.start_db, "needs 0 <= end_db < start_db"),
            ("backchannel_max_s", self.backchannel_max_s <= 1.2, "must be at most 1.2 s"),
            ("floor_percentile", 0.0 <= self.floor_percentile <= 50.0, "must be in [0, 50]"),
            ("coupling_percentile", 0 <= self.coupling_percentile <= 50, "must be in [0, 50]"),
            ("bleed_margin_db", self.bleed_margin_db >= 0.0, "must not be negative"),
            ("backchannel_slack_s", self.backchannel_slack_s >= 0.0, "must not be negative"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise InvalidInput(f"params.{name}", why)


def parse_transcript(text: str) -> list[tuple[str, str]]:
    """Lines ``A: text`` / ``B: text`` (blank lines skipped) → ``[("a", text), …]``."""
    if not isinstance(text, str):
        raise InvalidInput("transcript", "expected text")
    out: list[tuple[str, str]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        m = re.fullmatch(r"\s*([AaBb])\s*:\s*(\S.*?)\s*", line)
        if m is None:
            raise InvalidInput("transcript", f"line {n}: expected 'A: text' or 'B: text'")
        out.append((m.group(1).lower(), m.group(2)))
    if not out:
        raise InvalidInput("transcript", "no lines")
    return out


def load_pair(audio: bytes, audio_b: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One stereo file (channel 0 = A, 1 = B) or two files (A, B) → two float32 [N] tracks at
    16 kHz, the shorter padded with zeros. Files of any rate and format soundfile reads; a
    second file with several channels is averaged to mono."""
    if audio_b is None:
        data, rate = read_wav(audio)  # [N, C]
        if data.shape[1] != 2:
            raise InvalidInput(
                "audio",
                f"a single file needs two channels (0 = speaker A, 1 = speaker B), "
                f"got {data.shape[1]}; or pass --audio-b with speaker B's file",
            )
        both = np.clip(resample(data, rate, RATE), -1.0, 1.0)
        return np.ascontiguousarray(both[:, 0]), np.ascontiguousarray(both[:, 1])
    a = load_audio(audio, RATE)
    try:
        b = load_audio(audio_b, RATE)
    except InvalidInput as e:
        raise InvalidInput("audio_b", e.reason) from None
    a, b, _ = _pair_up(a, b, "audio_b")
    return a, b


def segment_conversation(
    track_a: np.ndarray,
    track_b: np.ndarray,
    *,
    sample_rate: int = RATE,
    transcript: list[tuple[str, str]] | None = None,
    identities: Mapping[str, Identity] | None = None,
    relation: Relation | None = None,
    environment: str = "unknown",
    params: VadParams = VadParams(),  # frozen, so a shared default is safe
) -> Timeline:
    """Speaker A's and B's tracks (float32 mono [N], ideally at 16 kHz; other rates are
    resampled) → a validated ``Timeline`` at 16 kHz. Tracks whose lengths differ by up to
    1 s are padded at the end with zeros to the longer; more is InvalidInput("track_b").
    See ``segment_with_report`` for the warnings."""
    return segment_with_report(
        track_a,
        track_b,
        sample_rate=sample_rate,
        transcript=transcript,
        identities=identities,
        relation=relation,
        environment=environment,
        params=params,
    )[0]


def segment_with_report(
    track_a: np.ndarray,
    track_b: np.ndarray,
    *,
    sample_rate: int = RATE,
    transcript: list[tuple[str, str]] | None = None,
    identities: Mapping[str, Identity] | None = None,
    relation: Relation | None = None,
    environment: str = "unknown",
    params: VadParams = VadParams(),  # frozen, so a shared default is safe
) -> tuple[Timeline, list[str]]:
    """``segment_conversation`` plus warnings in words: padding, a silent track, transcript
    lines that did not fit the detected sentences."""
    rate = check_rate(sample_rate, "sample_rate")
    tracks = []
    for field, x in (("track_a", track_a), ("track_b", track_b)):
        x = check_samples(x, field, max_channels=1)[:, 0]
        tracks.append(x if rate == RATE else resample(x, rate, RATE))
    a, b, warnings = _pair_up(tracks[0], tracks[1], "track_b")
    speakers = _identities(identities)
    texts = _check_transcript(transcript) if transcript is not None else None
    _reject_identical(a, b)

    speech = _detect(a, b, params)
    for spk in SPEAKERS:
        if not speech[spk]:
            warnings.append(f"no speech found in speaker {spk.upper()}'s track")
    if not speech["a"] and not speech["b"]:
        raise InvalidInput("audio", "no speech found in either track")

    # Short and inside the other's speech → backchannel; the rest are sentences, and a turn
    # is a speaker's run of sentences (the other's backchannels do not end it).
    rows = sorted(
        (s, e, spk, e - s < params.backchannel_max_s and _inside(s, e, speech[oth], params))
        for spk, oth in PAIRS
        for s, e in speech[spk]
    )
    turns, turn, last = [], -1, ""
    for _, _, spk, bc in rows:
        if not bc and spk != last:
            turn, last = turn + 1, spk
        turns.append(turn)
    queue = {spk: [t for sp, t in texts or [] if sp == spk] for spk in SPEAKERS}
    segments = []
    for (s, e, spk, bc), idx in zip(rows, turns, strict=True):
        if bc:  # the turn of the other speaker's nearest sentence
            near = [j for j, r in enumerate(rows) if r[2] != spk and not r[3]]
            j = min(near, key=lambda j: max(0.0, rows[j][0] - e, s - rows[j][1]), default=None)
            segments.append(
                Segment(spk, "backchannel", "", s, e, turn_index=-1 if j is None else turns[j])
            )
        else:
            text = queue[spk].pop(0) if queue[spk] else ""
            segments.append(Segment(spk, "sentence", text, s, e, turn_index=idx))
    for spk in SPEAKERS if texts is not None else ():
        n = sum(1 for g in segments if g.speaker == spk and g.kind == "sentence")
        given = sum(1 for sp, _ in texts or [] if sp == spk)
        if given != n:
            rest = f"{given - n} line(s) unused" if given > n else f"{n - given} without text"
            warnings.append(
                f"transcript: speaker {spk.upper()} has {given} lines but {n} "
                f"sentences were found; the last {rest}"
            )
    rel = relation if relation is not None else Relation(False, True, "unknown")
    timeline = Timeline(RATE, len(a) / RATE, speakers, rel, environment, tuple(segments))
    timeline.validate()
    return timeline, warnings


def _pair_up(a: np.ndarray, b: np.ndarray, field: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Equal lengths: pad the shorter with zeros (≤ 1 s apart), else InvalidInput(field)."""
    diff = len(a) - len(b)
    if abs(diff) > MAX_MISMATCH_S * RATE:
        raise InvalidInput(
            field,
            f"the tracks differ in length by {abs(diff) / RATE:.2f} s (more than "
            f"{MAX_MISMATCH_S:g} s): they are not one recording",
        )
    if diff == 0:
        return a, b, []
    note = f"speaker {'AB'[diff > 0]}'s track was {abs(diff) / RATE:.3f} s short; padded with zeros"
    return np.pad(a, (0, max(0, -diff))), np.pad(b, (0, max(0, diff))), [note]


def _identities(identities: Mapping[str, Identity] | None) -> dict[str, Identity]:
    if identities is None:
        return {"a": Identity(name="Speaker A"), "b": Identity(name="Speaker B")}
    if not isinstance(identities, Mapping) or not all(
        isinstance(identities.get(k), Identity) for k in ("a", "b")
    ):
        raise InvalidInput("identities", "expected an Identity for each of 'a' and 'b'")
    return {"a": identities["a"], "b": identities["b"]}


def _check_transcript(transcript: object) -> list[tuple[str, str]]:
    if not isinstance(transcript, list | tuple):
        raise InvalidInput("transcript", "expected a list of (speaker, text) pairs")
    out = []
    for i, item in enumerate(transcript):
        ok = isinstance(item, list | tuple) and len(item) == 2
        spk, text = item if ok else ("", "")
        if not ok or str(spk).lower() not in ("a", "b") or not isinstance(text, str):
            raise InvalidInput(f"transcript[{i}]", "expected ('a' or 'b', text)")
        out.append((str(spk).lower(), text.strip()))
    return out


def _reject_identical(a: np.ndarray, b: np.ndarray) -> None:
    """A mono recording copied to both channels cannot be split by speaker."""
    ea, eb = float(np.dot(a, a)), float(np.dot(b, b))
    if ea > 0 and eb > 0 and float(np.dot(a, b)) / np.sqrt(ea * eb) > 0.999:
        raise InvalidInput(
            "audio",
            "both tracks carry the same signal (a mono recording?); segmentation needs one "
            "channel or file per speaker",
        )


def _levels(x: np.ndarray, frame: int, hop: int, min_db: float) -> np.ndarray:
    """Frame levels in dBFS: frame i covers samples [i·hop, i·hop + frame)."""
    k = frame // hop
    n_blocks = len(x) // hop
    if n_blocks < k:
        raise InvalidInput("audio", f"too short: less than one {frame / RATE:.3f} s frame")
    blocks = np.square(x[: n_blocks * hop].astype(np.float64)).reshape(n_blocks, hop).sum(axis=1)
    c = np.concatenate([[0.0], np.cumsum(blocks)])
    power = (c[k:] - c[:-k]) / frame
    return np.asarray(10.0 * np.log10(np.maximum(power, 10.0 ** (min_db / 10.0))))


def _hysteresis(rel: np.ndarray, start: float, end: float) -> np.ndarray:
    out, on = [], False
    for v in rel.tolist():
        on = v >= end if on else v >= start
        out.append(on)
    return np.array(out, dtype=bool)


def _coupling(lv_src: np.ndarray, lv_dst: np.ndarray, src_on: np.ndarray, p: VadParams) -> float:
    """Level of the source's bleed in the other mic relative to the source mic, in dB:
    measured where the source channel is active and louder; −inf if there is too little."""
    mask = src_on & (lv_src > lv_dst)
    if mask.sum() < 0.2 / p.hop_s:
        return -np.inf
    return min(
        float(np.percentile(lv_dst[mask] - lv_src[mask], p.coupling_percentile)), p.max_coupling_db
    )


def _detect(a: np.ndarray, b: np.ndarray, p: VadParams) -> dict[SpeakerId, list[Interval]]:
    """Per-speaker speech intervals in seconds, after bleed rejection, merging and pruning."""
    frame, hop = round(p.frame_s * RATE), round(p.hop_s * RATE)
    lv = {spk: _levels(x, frame, hop, p.min_level_dbfs) for spk, x in (("a", a), ("b", b))}
    act = {}
    for spk, x in lv.items():
        floor = float(np.percentile(x, p.floor_percentile))
        act[spk] = _hysteresis(x - floor, p.start_db, p.end_db) & (x >= p.gate_dbfs)
    # Bleed of the key's speaker into the other mic, relative to their own mic.
    couple = {spk: _coupling(lv[spk], lv[oth], act[spk], p) for spk, oth in PAIRS}
    duration = len(a) / RATE
    out: dict[SpeakerId, list[Interval]] = {}
    for spk, other in PAIRS:
        above_bleed = lv[spk] - lv[other] > couple[other] + p.bleed_margin_db
        own = act[spk] & (~act[other] | above_bleed)
        edges = np.diff(np.concatenate([[0], own.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        half = (frame - hop) / 2  # frames [i0, i1) → centre of i0 − hop/2 … of i1−1 + hop/2
        merged: list[list[float]] = []
        for i0, i1 in zip(starts.tolist(), ends.tolist(), strict=True):
            s = max(0.0, (i0 * hop + half) / RATE)
            e = min(duration, (i1 * hop + half) / RATE)
            if merged and s - merged[-1][1] < p.pause_s:
                merged[-1][1] = e
            else:
                merged.append([s, e])
        out[spk] = [(s, e) for s, e in merged if e - s >= p.min_speech_s]
    return out


def _inside(s: float, e: float, other: list[Interval], p: VadParams) -> bool:
    """Overlaps the other's speech, or sits in its pause (other speech within slack on both
    sides)."""
    if any(os < e and s < oe for os, oe in other):
        return True
    before = any(oe >= s - p.backchannel_slack_s and os < s for os, oe in other)
    after = any(os <= e + p.backchannel_slack_s and oe > e for os, oe in other)
    return before and after
