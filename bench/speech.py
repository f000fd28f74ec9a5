"""Speech engines: speed, emotional prosody, speaker distinctness and lip sync, measured.

For every voice that ``discover()`` finds (espeak: two variants, ``en-us+m3`` and
``en-us+f3``), through ``Voicebox.synthesize`` (engine + ``dsp`` prosody, 16 kHz out):

1. **Speed**: real-time factor (synthesis seconds / audio seconds), median over 6 sentences
   after one warm-up call, and the voice's native sample rate.
2. **Emotion**: every category at intensity 1.0 on the same 3 sentences: F0 mean (Hz) and
   range (5th–95th percentile, semitones) from ``pyworld.harvest`` + ``stonemask`` (voiced
   frames of all 3 sentences pooled; ``dio`` made octave errors on Piper and RHVoice ``bdl``;
   ΔF0 is taken between medians, which octave errors move least), speaking rate (syllables by
   a vowel-group heuristic / audio seconds; the audio is trimmed by ``finish_audio``, so pauses
   inside sentences count), and RMS energy in dBFS over active frames (25 ms frames within
   35 dB of the loudest). Then the deltas against neutral (ΔF0 semitones, rate ×, ΔdB) next
   to what ``prosody``'s table asks for; a measured delta whose sign is opposite to the
   table's is flagged ``WRONG``.
3. **Speaker pairs** cast by ``make_engine("auto").cast``: the cast voices and their shifts,
   F0 distance (semitones between the median voiced F0 of each speaker over 3 neutral
   sentences) and spectral-envelope distance: RMS log-spectral distance in dB between the
   mean ``pyworld.cheaptrick`` log envelopes (voiced frames, 80 Hz–7.6 kHz), each with its
   mean level removed (shape only, loudness does not count).
4. **Lip sync**: a written dialogue (``DialogueWriter``, 5–6 turns) spoken per engine
   (``conversation.speak``, ``room=False``), animated by ``ProceduralAnimator``; the metric is
   the motion tests' own (``services/motion/tests/test_procedural.py``): Pearson r between
   ``jawOpen`` and the 40 ms RMS envelope over each speaker's sentence frames (the tests ask
   ≥ 0.5).

``python -m bench.speech`` writes ``bench/results/speech-<hostname>.{json,md}`` and prints the
markdown; progress goes to stderr.
"""

from __future__ import annotations

import math
import re
import statistics
import sys
import time
from typing import Any

import numpy as np

from bench.common import RESULTS, machine, write_result
from dyad.domain import EMOTIONS, Emotion, Identity
from dyad.services.dialogue.settings import DialogueSettings
from dyad.services.dialogue.speech.conversation import speak
from dyad.services.dialogue.speech.dsp import pyworld as dsp_pyworld
from dyad.services.dialogue.speech.prosody import target_for
from dyad.services.dialogue.speech.voicebox import Voicebox, discover, make_engine
from dyad.services.dialogue.speech.voices import CastVoice, VoiceInfo
from dyad.services.dialogue.writing.writer import DialogueWriter
from dyad.services.motion.procedural.animator import ProceduralAnimator

# the lip-sync metric of the motion tests, reused as is
from dyad.services.motion.tests.test_procedural import col, frames, rms_envelope, segs
from dyad.timebase import SAMPLE_RATE as SR

pyworld = dsp_pyworld()

ESPEAK_VARIANTS = ("en-us+m3", "en-us+f3")
RTF_SENTENCES = (
    "The train to the coast leaves a little after nine in the morning.",
    "I think we should ask her before we decide anything else.",
    "Could you pass me the salt and the pepper, please?",
    "It rained all afternoon, so we stayed in and played cards.",
    "My brother fixed the old bicycle in the garage last weekend.",
    "Honestly, I had no idea the museum was closed on Mondays.",
)
EMO_SENTENCES = RTF_SENTENCES[:3]
PAIRS: dict[str, tuple[Identity, Identity]] = {
    "masc+masc adults": (
        Identity("Tom Berg", "adult", "masculine"),
        Identity("Jack Moreau", "adult", "masculine"),
    ),
    "fem+fem adults": (
        Identity("Anna Lind", "adult", "feminine"),
        Identity("Maria Costa", "adult", "feminine"),
    ),
    "masc+fem adults": (
        Identity("Tom Berg", "adult", "masculine"),
        Identity("Anna Lind", "adult", "feminine"),
    ),
    "adult+child": (
        Identity("Maria Costa", "adult", "feminine"),
        Identity("Leo Costa", "child", "masculine"),
    ),
}
DIALOGUE_PROMPT = "two friends plan a weekend trip to the mountains"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- measurements


def f0_track(x: np.ndarray) -> np.ndarray:
    """Voiced F0 values (Hz), 5 ms frames."""
    d = x.astype(np.float64)
    f0, t = pyworld.harvest(d, SR, f0_floor=60.0, f0_ceil=600.0, frame_period=5.0)
    f0 = pyworld.stonemask(d, f0, t, SR)
    return f0[f0 > 0]


_VOWELS = re.compile(r"[aeiouy]+")


def syllables(text: str) -> int:
    """Vowel groups per word (a final silent ``e`` dropped), at least one per word."""
    n = 0
    for word in re.findall(r"[a-z']+", text.lower()):
        k = len(_VOWELS.findall(word))
        if k > 1 and word.endswith("e") and not word.endswith(("le", "ee")):
            k -= 1
        n += max(k, 1)
    return n


def active_frames(x: np.ndarray, frame: int = 400, hop: int = 160) -> np.ndarray:
    """Mean square of each 25 ms frame within 35 dB of the loudest frame."""
    if x.size < frame:
        return np.array([float(np.mean(x.astype(np.float64) ** 2))])
    idx = np.arange(0, x.size - frame + 1, hop)[:, None] + np.arange(frame)
    ms = np.mean(x.astype(np.float64)[idx] ** 2, axis=1)
    return ms[ms >= ms.max() * 10 ** (-35 / 10)]


def prosody_of(clips: list[tuple[str, np.ndarray]]) -> dict[str, float]:
    f0 = np.concatenate([f0_track(x) for _, x in clips])
    dur = sum(x.size for _, x in clips) / SR
    ms = np.concatenate([active_frames(x) for _, x in clips])
    p5, p95 = np.percentile(f0, [5, 95])
    return {
        "f0_mean_hz": float(f0.mean()),
        "f0_median_hz": float(np.median(f0)),
        "f0_range_st": float(12 * math.log2(p95 / p5)),
        "syl_per_s": sum(syllables(t) for t, _ in clips) / dur,
        "rms_dbfs": float(10 * math.log10(ms.mean())),
        "audio_s": dur,
    }


def mean_log_envelope(clips: list[np.ndarray]) -> np.ndarray:
    """Mean cheaptrick log power envelope (dB) over voiced frames, 80 Hz–7.6 kHz, its mean
    level removed."""
    envs = []
    for x in clips:
        d = x.astype(np.float64)
        f0, t = pyworld.harvest(d, SR, f0_floor=60.0, f0_ceil=600.0, frame_period=5.0)
        f0 = pyworld.stonemask(d, f0, t, SR)
        sp = pyworld.cheaptrick(d, f0, t, SR)
        envs.append(10 * np.log10(sp[f0 > 0] + 1e-12))
    env = np.concatenate(envs).mean(axis=0)
    freqs = np.linspace(0, SR / 2, env.size)
    env = env[(freqs >= 80) & (freqs <= 7600)]
    return env - env.mean()


# ---------------------------------------------------------------- parts


def voices_to_measure() -> tuple[list[tuple[str, VoiceInfo]], dict[str, str]]:
    found, missing = discover()
    out = []
    for engine in found:
        for v in engine.voices():
            if engine.name == "espeak" and v.name not in ESPEAK_VARIANTS:
                continue
            out.append((engine.name, v))
    return out, missing


def bench_rtf(box: Voicebox, v: VoiceInfo) -> dict[str, Any]:
    cv, neutral = CastVoice(v), Emotion()
    box.synthesize(RTF_SENTENCES[0], cv, neutral)  # warm-up (model load, caches)
    rtfs = []
    for s in RTF_SENTENCES:
        t0 = time.perf_counter()
        x = box.synthesize(s, cv, neutral)
        rtfs.append((time.perf_counter() - t0) / (x.size / SR))
    return {"rtf_median": statistics.median(rtfs), "rtf_all": rtfs, "sample_rate": v.sample_rate}


def expected(category: str) -> dict[str, float]:
    t = target_for(Emotion(category, 1.0))
    return {"d_f0_st": 12 * math.log2(t.f0), "rate_x": t.rate, "d_db": 20 * math.log10(t.gain)}


def bench_emotions(box: Voicebox, v: VoiceInfo) -> dict[str, dict[str, float]]:
    cv = CastVoice(v)
    out = {}
    for cat in EMOTIONS:
        clips = [(s, box.synthesize(s, cv, Emotion(cat, 1.0))) for s in EMO_SENTENCES]
        out[cat] = prosody_of(clips)
    base = out["neutral"]
    for m in out.values():
        m["d_f0_st"] = 12 * math.log2(m["f0_median_hz"] / base["f0_median_hz"])
        m["d_range_st"] = m["f0_range_st"] - base["f0_range_st"]
        m["rate_x"] = m["syl_per_s"] / base["syl_per_s"]
        m["d_db"] = m["rms_dbfs"] - base["rms_dbfs"]
    return out


# below these the table's deviation is too small to call a direction
_MIN = {"d_f0_st": 0.5, "rate_x": 0.03, "d_db": 0.5}


def wrong_directions(cat: str, m: dict[str, float]) -> list[str]:
    exp, bad = expected(cat), []
    for key, lim in _MIN.items():
        zero = 1.0 if key == "rate_x" else 0.0
        want, got = exp[key] - zero, m[key] - zero
        if abs(want) >= lim and want * got < 0:
            bad.append(key)
    return bad


def bench_pairs() -> dict[str, Any]:
    box = make_engine("auto")
    out: dict[str, Any] = {}
    for label, (a, b) in PAIRS.items():
        log(f"pair {label}")
        cast = box.cast({"a": a, "b": b}, key=label)
        clips = {
            s: [box.synthesize(t, cast[s], Emotion()) for t in EMO_SENTENCES] for s in ("a", "b")
        }
        med = {s: float(np.median(np.concatenate([f0_track(x) for x in clips[s]]))) for s in clips}
        env = {s: mean_log_envelope(clips[s]) for s in clips}
        out[label] = {
            "a": {"identity": f"{a.age_band} {a.gender_presentation}", **cast["a"].describe()},
            "b": {"identity": f"{b.age_band} {b.gender_presentation}", **cast["b"].describe()},
            "f0_median_hz": med,
            "f0_distance_st": abs(12 * math.log2(med["a"] / med["b"])),
            "envelope_lsd_db": float(np.sqrt(np.mean((env["a"] - env["b"]) ** 2))),
        }
    return out


def bench_lipsync(engines: list[str]) -> dict[str, Any]:
    dialogue = DialogueWriter(DialogueSettings()).write(DIALOGUE_PROMPT, 1, seed=1, turns=(5, 6))[0]
    out: dict[str, Any] = {}
    for name in engines:
        log(f"lip sync: {name}")
        box = make_engine(name)
        conv = speak(dialogue, box, seed=0, room=False)
        cast = box.cast({"a": dialogue.speaker_a, "b": dialogue.speaker_b}, dialogue.dialogue_id)
        tl = conv.timeline
        ma, mb = ProceduralAnimator().animate(conv.track_a, conv.track_b, tl, seed=0)
        motion = {"a": ma, "b": mb}
        res: dict[str, Any] = {"duration_s": tl.duration_s}
        for spk, track in (("a", conv.track_a), ("b", conv.track_b)):
            t = motion[spk].shape[0]
            jaw = col(motion[spk], "jawOpen")
            speaking = frames(segs(tl, spk, "sentence"), t)
            env = rms_envelope(track, t)
            res[spk] = {
                "voice": cast[spk].info.id,
                "r": float(np.corrcoef(jaw[speaking], env[speaking])[0, 1]),
                "speaking_frames": int(speaking.sum()),
            }
        out[name] = res
    return out


# ---------------------------------------------------------------- report


def table(head: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return lines


def render(res: dict[str, Any]) -> str:
    m = res["machine"]
    out = [
        f"# Speech engines — {m['hostname']} ({m['cpus']} CPUs, {m['platform']})",
        "",
        f"{res['time']}; total {res['runtime_s']:.0f} s. Generated by `python -m bench.speech`.",
        "",
    ]
    if res["missing_engines"]:
        out += [f"Missing engines: {res['missing_engines']}", ""]
    out += ["## 1. Speed (Voicebox.synthesize, neutral, median of 6 after a warm-up)", ""]
    out += table(
        ["voice", "native Hz", "RTF median", "RTF min", "RTF max"],
        [
            [vid, r["sample_rate"], r["rtf_median"], min(r["rtf_all"]), max(r["rtf_all"])]
            for vid, r in res["rtf"].items()
        ],
    )
    out += ["", "## 2. Emotion (intensity 1.0, 3 sentences pooled)", ""]
    rows = []
    for vid, cats in res["emotion"].items():
        for cat, e in cats.items():
            keys = ("f0_mean_hz", "f0_median_hz", "f0_range_st", "syl_per_s", "rms_dbfs")
            rows.append([vid, cat, *(e[k] for k in keys)])
    out += table(
        ["voice", "emotion", "F0 mean Hz", "F0 median Hz", "F0 range st", "syl/s", "RMS dBFS"], rows
    )
    out += ["", "### Against neutral, per engine (mean over its voices)", ""]
    out += ["ΔF0 between medians. In brackets: what prosody.py's table asks for.", ""]
    rows = []
    for eng, cats in res["emotion_engine"].items():
        for cat, d in cats.items():
            if cat == "neutral":
                continue
            x = expected(cat)
            rows.append(
                [
                    eng,
                    cat,
                    f"{d['d_f0_st']:+.2f} ({x['d_f0_st']:+.2f})",
                    f"{d['d_range_st']:+.2f}",
                    f"{d['rate_x']:.2f} ({x['rate_x']:.2f})",
                    f"{d['d_db']:+.2f} ({x['d_db']:+.2f})",
                    ", ".join(d["wrong"]) or "",
                ]
            )
    out += table(
        ["engine", "emotion", "ΔF0 st (tgt)", "Δrange st", "rate × (tgt)", "ΔdB (tgt)", "WRONG"],
        rows,
    )
    out += ["", "### Against neutral, per voice", ""]
    rows = []
    for vid, cats in res["emotion"].items():
        for cat, d in cats.items():
            if cat != "neutral":
                keys = ("d_f0_st", "d_range_st", "rate_x", "d_db")
                rows.append([vid, cat, *(d[k] for k in keys), ", ".join(d["wrong"])])
    out += table(["voice", "emotion", "ΔF0 st", "Δrange st", "rate ×", "ΔdB", "WRONG"], rows)
    out += [
        "",
        "## 3. Speaker pairs (make_engine('auto').cast, neutral, 3 sentences)",
        "",
        "F0 distance: semitones between the speakers' median voiced F0. Envelope LSD: RMS"
        " log-spectral distance (dB) between mean cheaptrick envelopes, level removed.",
        "",
    ]
    rows = []
    for label, p in res["pairs"].items():

        def who(s: dict[str, Any]) -> str:
            return (
                f"{s['id']} (st {s['pitch_shift_semitones']:+g}, rate {s['rate']:g},"
                f" formant {s['formant']:g})"
            )

        rows.append(
            [
                label,
                who(p["a"]),
                who(p["b"]),
                f"{p['f0_median_hz']['a']:.0f} / {p['f0_median_hz']['b']:.0f}",
                p["f0_distance_st"],
                p["envelope_lsd_db"],
            ]
        )
    out += table(["pair", "A cast", "B cast", "F0 median Hz A/B", "F0 dist st", "env LSD dB"], rows)
    out += [
        "",
        "## 4. Lip sync (procedural animator)",
        "",
        "r(jawOpen, 40 ms RMS) over each speaker's sentence frames; the motion tests ask ≥ 0.5.",
        "",
    ]
    rows = [
        [eng, f"{r['duration_s']:.1f}", r["a"]["voice"], r["a"]["r"], r["b"]["voice"], r["b"]["r"]]
        for eng, r in res["lipsync"].items()
    ]
    out += table(["engine", "dialogue s", "A voice", "r A", "B voice", "r B"], rows)
    return "\n".join(out) + "\n"


def main() -> None:
    t_start = time.perf_counter()
    voices, missing = voices_to_measure()
    log(f"{len(voices)} voices; missing engines: {missing or 'none'}")
    rtf: dict[str, Any] = {}
    emotion: dict[str, Any] = {}
    for eng, v in voices:
        box = make_engine(eng)
        log(f"{v.id}: speed")
        rtf[v.id] = bench_rtf(box, v)
        log(f"{v.id}: emotions (RTF {rtf[v.id]['rtf_median']:.3f})")
        emotion[v.id] = bench_emotions(box, v)
        for cat, m in emotion[v.id].items():
            m["wrong"] = wrong_directions(cat, m)
    per_engine: dict[str, Any] = {}
    for eng in dict.fromkeys(e for e, _ in voices):
        ids = [v.id for e, v in voices if e == eng]
        per_engine[eng] = {}
        for cat in EMOTIONS:
            d = {
                k: float(np.mean([emotion[i][cat][k] for i in ids]))
                for k in ("d_f0_st", "d_range_st", "rate_x", "d_db")
            }
            d["wrong"] = wrong_directions(cat, d)
            per_engine[eng][cat] = d
    pairs = bench_pairs()
    lipsync = bench_lipsync(list(dict.fromkeys(e for e, _ in voices)))
    res: dict[str, Any] = {
        "machine": machine(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runtime_s": time.perf_counter() - t_start,
        "missing_engines": missing,
        "rtf": rtf,
        "emotion": emotion,
        "emotion_engine": per_engine,
        "pairs": pairs,
        "lipsync": lipsync,
    }
    text = render(res)
    body = {k: v for k, v in res.items() if k not in ("machine", "time")}
    path = write_result("speech", body)
    md = RESULTS / f"speech-{res['machine']['hostname']}.md"
    md.write_text(text)
    print(text)
    log(f"written to {path} and {md} in {res['runtime_s']:.0f} s")


if __name__ == "__main__":
    main()
