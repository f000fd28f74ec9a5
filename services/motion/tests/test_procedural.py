"""The procedural animator on real espeak-ng conversations (with room acoustics): lip sync,
silence, listener nods and sway, blinks, relationship, emotion, continuity, rigs, bad input."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dyad.domain import (
    Dialogue,
    Emotion,
    Identity,
    Relation,
    Segment,
    Sentence,
    SpeakerId,
    Timeline,
    Turn,
)
from dyad.errors import InvalidInput
from dyad.rigs import get_rig, num_frames
from dyad.services.motion.procedural.animator import AnimatorConfig, ProceduralAnimator
from dyad.timebase import FPS, SAMPLE_RATE

from .spoken import Spoken, speak

ARKIT = get_rig("arkit55")
HEAD = [ARKIT.index(n) for n in ("headPitch", "headYaw", "headRoll")]
BLINKS = [ARKIT.index("eyeBlinkLeft"), ARKIT.index("eyeBlinkRight")]
# Two speakers; A is happy then sad so one face shows both.
LINES: list[tuple[SpeakerId, str, str]] = [
    ("a", "Guess what, I finally got the job at the museum, I start next Monday!", "happy"),
    ("b", "No way, really? That is amazing news, after all those interviews.", "surprised"),
    ("a", "But it means moving away, and I will miss everyone here so much.", "sad"),
    ("b", "Why did nobody tell me it was that far? That is completely unfair!", "angry"),
    ("a", "We can still call every weekend and plan visits in the summer.", "neutral"),
    ("b", "You are right. I am really proud of you, and we will celebrate tonight.", "happy"),
]
# A longer conversation (a minute; "|" separates the sentences of a turn).
LONG = [
    "I went to the market this morning and the whole square was full of stalls."
    "|It was busy and loud.|I could hardly walk.",
    "Oh, was that the farmers market that they moved from the old station?"
    "|I heard about it on the radio.",
    "Yes, and a baker was selling bread shaped like animals, a bear and a fish.|The kids loved it.",
    "That sounds wonderful.|Did you buy anything, or did you just look around for a while?",
    "I bought apples, cheese, and honey from a beekeeper up the valley."
    "|The honey is dark and thick.|It smells of flowers.",
    "Honey from the valley is the best.|My uncle used to keep bees there many years ago.",
    "Really?|I did not know that. Does he still have the hives, or did he sell them all?",
    "He gave them to a neighbour when he retired.|He still talks about them every single winter.",
    "We should go together next Saturday and bring a basket.|I really want to try that cheese.",
    "Good idea.|Let us meet at nine by the fountain. It gets crowded after ten o'clock."
    "|Bring some cash.",
]


def _dialogue(lines: list[tuple[SpeakerId, str, str]], relation: Relation) -> Dialogue:
    return Dialogue(
        dialogue_id="m",
        prompt="news",
        scenario="casual",
        speaker_a=Identity("Alex", "young_adult", "feminine"),
        speaker_b=Identity("Sam", "adult", "masculine"),
        relation=relation,
        environment="office",
        turns=tuple(
            Turn(s, tuple(Sentence(t, Emotion(cat, 0.9)) for t in text.split("|")))
            for s, text, cat in lines
        ),
    )


@pytest.fixture(scope="module")
def conv() -> Spoken:
    return speak(_dialogue(LINES, Relation(False, True, "friends")), seed=3, p_inter=1.0)


@pytest.fixture(scope="module")
def long_conv() -> Spoken:
    lines: list[tuple[SpeakerId, str, str]] = [
        ("a" if i % 2 == 0 else "b", text, "neutral") for i, text in enumerate(LONG)
    ]
    return speak(_dialogue(lines, Relation(False, True)), seed=5, p_inter=1.0)


@pytest.fixture(scope="module")
def motion(conv: Spoken) -> dict[str, np.ndarray]:
    a, b = ProceduralAnimator().animate(conv.track_a, conv.track_b, conv.timeline, seed=0)
    return {"a": a, "b": b}


def col(m: np.ndarray, name: str) -> np.ndarray:
    return m[:, ARKIT.index(name)]


def frames(segs: list[Segment], n: int, margin_s: float = 0.0) -> np.ndarray:
    mask = np.zeros(n, bool)
    for s in segs:
        mask[
            max(int((s.start_s - margin_s) * FPS), 0) : int(np.ceil((s.end_s + margin_s) * FPS))
        ] = True
    return mask


def rms_envelope(track: np.ndarray, n: int) -> np.ndarray:
    """RMS of each 40 ms block (640 samples) — independent of the animator's analysis."""
    x = np.zeros(n * 640)
    x[: track.size] = track
    return np.sqrt(np.mean(x.reshape(n, 640) ** 2, axis=1))


def segs(tl: Timeline, speaker: str, kind: str | None = None) -> list[Segment]:
    return tl.speaker_segments(cast(SpeakerId, speaker), kind)


def test_shapes_dtype_and_rigs(conv: Spoken, motion: dict[str, np.ndarray]) -> None:
    n = conv.track_a.size
    t = num_frames(n / SAMPLE_RATE)
    assert t == -(-n * 25 // 16000)
    for m in motion.values():
        assert m.shape == (t, 55) and m.dtype == np.float32
        ARKIT.validate(m)
    flame = get_rig("flame56")
    fa, fb = ProceduralAnimator().animate(
        conv.track_a, conv.track_b, conv.timeline, seed=0, rig="flame56"
    )
    for f, m in ((fa, motion["a"]), (fb, motion["b"])):
        assert f.shape == (t, 56) and f.dtype == np.float32
        flame.validate(f)
        assert not f[:, :50].any(), "no data-free ARKit → FLAME expression mapping"
        np.testing.assert_allclose(f[:, 50], 0.35 * col(m, "jawOpen"), atol=1e-6)
        # the neck is the head rotation Ry(yaw) · Rx(pitch) · Rz(roll) as axis-angle
        ypr = Rotation.from_rotvec(f[:, 53:56].astype(np.float64)).as_euler("YXZ")
        np.testing.assert_allclose(ypr, m[:, [HEAD[1], HEAD[0], HEAD[2]]], atol=1e-5)
        np.testing.assert_allclose(f[:, 53:56], m[:, HEAD], atol=0.02)  # small angles


def test_odd_lengths_and_silence() -> None:
    """Frame count for lengths off the frame grid; silence (no segments) → mouth at rest, yet
    the head and eyes still move."""
    for n in (1, 639, 640, 641, 2 * SAMPLE_RATE + 1):
        tl = Timeline(SAMPLE_RATE, n / SAMPLE_RATE, {}, Relation(), "studio", ())
        x = np.zeros(n, np.float32)
        a, b = ProceduralAnimator().animate(x, x, tl, seed=1)
        assert a.shape[0] == b.shape[0] == num_frames(n / SAMPLE_RATE) == -(-n * 25 // 16000)
    assert not col(a, "jawOpen").any() and not col(a, "mouthClose").any()
    assert a[:, HEAD].std(axis=0).sum() > 0.002


def test_deterministic_per_seed(conv: Spoken, motion: dict[str, np.ndarray]) -> None:
    anim = ProceduralAnimator()
    a, b = anim.animate(conv.track_a, conv.track_b, conv.timeline, seed=0)
    assert np.array_equal(a, motion["a"]) and np.array_equal(b, motion["b"])
    a2, _ = anim.animate(conv.track_a, conv.track_b, conv.timeline, seed=1)
    assert not np.array_equal(a2[:, BLINKS], a[:, BLINKS])
    assert not np.array_equal(col(a2, "eyeLookOutLeft"), col(a, "eyeLookOutLeft"))
    # lips follow the audio, not chance
    np.testing.assert_array_equal(col(a2, "jawOpen"), col(a, "jawOpen"))


def test_lip_sync_follows_own_audio(conv: Spoken, motion: dict[str, np.ndarray]) -> None:
    tl, t = conv.timeline, motion["a"].shape[0]
    for spk, track in (("a", conv.track_a), ("b", conv.track_b)):
        jaw = col(motion[spk], "jawOpen")
        env = rms_envelope(track, t)
        speaking = frames(segs(tl, spk, "sentence"), t)
        r = np.corrcoef(jaw[speaking], env[speaking])[0, 1]
        assert r >= 0.5, (spk, r)
        assert jaw[speaking].mean() > 0.1
        other = "b" if spk == "a" else "a"
        silent = frames(segs(tl, other, "sentence"), t) & ~frames(segs(tl, spk), t, 0.2)
        assert silent.sum() > 100
        assert jaw[silent].mean() < 0.05, spk
        assert jaw[silent].max() < 0.02 and col(motion[spk], "mouthClose")[silent].max() < 0.02
        mouth = [ARKIT.index(n) for n in ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker")]
        assert np.abs(motion[spk][-3:, mouth]).max() < 1e-6, "the clip ends at rest"


def test_clip_cut_mid_sentence_ends_at_rest(conv: Spoken) -> None:
    """Audio cut while A talks (bring-your-own-audio excerpts): the mouth still comes to rest
    over the last frames instead of freezing open."""
    first = next(s for s in conv.timeline.segments if s.speaker == "a")
    cut = int((first.start_s + 1.5) * SAMPLE_RATE)
    seg = replace(first, end_s=cut / SAMPLE_RATE)
    tl = replace(conv.timeline, duration_s=cut / SAMPLE_RATE, segments=(seg,))
    a, _ = ProceduralAnimator().animate(conv.track_a[:cut], conv.track_b[:cut], tl)
    jaw = col(a, "jawOpen")
    assert jaw[-40:-12].max() > 0.2, "A is talking just before the cut"
    assert not a[-3:, [ARKIT.index("jawOpen"), ARKIT.index("mouthClose")]].any()
    assert np.abs(np.diff(jaw)).max() <= 0.35


def nod_times(pitch: np.ndarray, min_speed: float = 0.008) -> np.ndarray:
    """A nod = a local maximum of downward head velocity (pitch > 0 is down) faster than
    ``min_speed`` rad/frame (0.2 rad/s); its time is the middle of that frame step."""
    v = np.diff(pitch.astype(np.float64))
    peak = (v[1:-1] > v[:-2]) & (v[1:-1] >= v[2:]) & (v[1:-1] > min_speed)
    return (np.flatnonzero(peak) + 1 + 0.5) / FPS


def nod_hit_rate(tl: Timeline, listener: str, m: np.ndarray) -> float:
    nods = nod_times(col(m, "headPitch"))
    speaker = "b" if listener == "a" else "a"
    ends = [s.end_s for s in segs(tl, speaker, "sentence") if s.end_s + 0.5 < tl.duration_s]
    hits = [bool(((nods >= e) & (nods <= e + 0.5)).any()) for e in ends]
    return float(np.mean(hits))


def test_listener_nods_and_sways(conv: Spoken, motion: dict[str, np.ndarray]) -> None:
    tl = conv.timeline
    rates = [nod_hit_rate(tl, spk, motion[spk]) for spk in "ab"]
    assert np.mean(rates) >= 0.6, rates
    restrained = replace(tl, relation=Relation(False, False))
    for spk, m in zip(
        "ab", ProceduralAnimator().animate(conv.track_a, conv.track_b, restrained), strict=True
    ):
        for mm in (motion[spk], m):
            listening = frames(segs(tl, "b" if spk == "a" else "a", "sentence"), mm.shape[0])
            stds = []
            for s in range(0, mm.shape[0] - 75, 5):
                if listening[s : s + 75].all():
                    stds.append(np.sqrt(mm[s : s + 75, HEAD].var(axis=0).sum()))
            assert len(stds) > 5 and min(stds) > 0.005, (spk, min(stds))


def blink_onsets(m: np.ndarray) -> np.ndarray:
    b = m[:, BLINKS[0]] > 0.5
    return np.flatnonzero(b[1:] & ~b[:-1]) + 1


def test_blink_rate(long_conv: Spoken) -> None:
    tl = long_conv.timeline
    assert tl.duration_s >= 60
    speak_n = speak_t = listen_n = listen_t = 0.0
    for seed in range(3):
        pair = ProceduralAnimator().animate(long_conv.track_a, long_conv.track_b, tl, seed=seed)
        for spk, m in zip("ab", pair, strict=True):
            on = blink_onsets(m)
            per_min = on.size / (m.shape[0] / FPS / 60)
            assert 8 <= per_min <= 24, (seed, spk, per_min)
            speaking = frames(segs(tl, spk), m.shape[0])
            listening = frames(segs(tl, "b" if spk == "a" else "a", "sentence"), m.shape[0])
            listening &= ~speaking
            speak_n += speaking[on].sum()
            speak_t += speaking.sum() / FPS / 60
            listen_n += listening[on].sum()
            listen_t += listening.sum() / FPS / 60
    assert speak_n / speak_t < listen_n / listen_t, (speak_n / speak_t, listen_n / listen_t)


EXPRESSIVE = (
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "browDownLeft",
    "browDownRight",
    "mouthSmileLeft",
    "mouthSmileRight",
    "headPitch",
    "headYaw",
    "headRoll",
)


def expressiveness(pair: tuple[np.ndarray, np.ndarray]) -> float:
    return float(sum(col(m, n).std() for m in pair for n in EXPRESSIVE))


def test_relationship_modulates_expressiveness(conv: Spoken) -> None:
    anim = ProceduralAnimator()
    tl = conv.timeline
    close = anim.animate(conv.track_a, conv.track_b, replace(tl, relation=Relation(True, True)))
    formal = anim.animate(conv.track_a, conv.track_b, replace(tl, relation=Relation(False, False)))
    assert expressiveness(close) > 1.2 * expressiveness(formal)
    # the younger speaker (A) is the junior side of the unequal pair: more restrained than B
    ratio = [
        expressiveness((c, c)) / expressiveness((f, f)) for c, f in zip(close, formal, strict=True)
    ]
    assert ratio[0] > ratio[1]


def test_continuity(conv: Spoken, motion: dict[str, np.ndarray]) -> None:
    for m in motion.values():
        step = np.abs(np.diff(m.astype(np.float64), axis=0)).max(axis=0)
        blend = np.delete(np.arange(52), BLINKS)
        assert step[blend].max() <= 0.35, ARKIT.channels[blend[np.argmax(step[blend])]]
        assert step[HEAD].max() <= 0.05


def test_emotion_shapes_the_face(conv: Spoken, motion: dict[str, np.ndarray]) -> None:
    tl, t = conv.timeline, motion["a"].shape[0]
    by = {(s.speaker, s.emotion.category): s for s in tl.segments if s.kind == "sentence"}

    def mean(m: np.ndarray, names: tuple[str, ...], seg: Segment) -> float:
        mask = frames([seg], t)
        return float(np.mean([col(m, n)[mask].mean() for n in names]))

    smile = ("mouthSmileLeft", "mouthSmileRight")
    a = motion["a"]
    assert mean(a, smile, by["a", "happy"]) > mean(a, smile, by["a", "sad"]) + 0.15
    assert mean(a, ("mouthFrownLeft",), by["a", "sad"]) > mean(
        a, ("mouthFrownLeft",), by["a", "happy"]
    )
    # the listener responds: B smiles at A's happy news, shows concern at A's sad line
    b = motion["b"]
    assert mean(b, smile, by["a", "happy"]) > mean(b, smile, by["a", "sad"]) + 0.1
    assert mean(b, ("browInnerUp",), by["a", "sad"]) > mean(b, ("browInnerUp",), by["a", "happy"])


def test_bad_input_names_the_field(conv: Spoken) -> None:
    anim = ProceduralAnimator()
    a, b, tl = conv.track_a, conv.track_b, conv.timeline
    cases = [
        ((a[:, None], b, tl), {}, "track_a"),
        ((a.astype(np.int16), b, tl), {}, "track_a"),
        ((a, b[:-5], tl), {}, "track_b"),
        ((a, np.where(np.arange(b.size) == 7, np.nan, b).astype(np.float32), tl), {}, "track_b"),
        ((a, b, {"segments": []}), {}, "timeline"),
        ((a, b, replace(tl, duration_s=tl.duration_s + 5)), {}, "timeline"),
        ((a, b, tl), {"rig": "mesh"}, "rig"),
        ((a, b, tl), {"seed": "zero"}, "seed"),
    ]
    for args, kwargs, field in cases:
        with pytest.raises(InvalidInput) as e:
            anim.animate(*args, **kwargs)
        assert e.value.field == field, (field, e.value)
    with pytest.raises(InvalidInput) as e:
        AnimatorConfig(blink_rate_per_min=(20.0, 10.0))
    assert e.value.field == "config.blink_rate_per_min"
