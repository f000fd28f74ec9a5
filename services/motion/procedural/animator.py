"""The procedural conversational animator: the motion service's fast fallback and the teacher
that generates the synthetic training corpus (DESIGN.md §5).

``ProceduralAnimator().animate(track_a, track_b, timeline)`` turns a conversation's two 16 kHz
tracks and its timeline into each speaker's motion ``[T, C]`` at 25 fps,
``T = ceil(N · 25 / 16000)`` (exact integer arithmetic), valid for the rig and deterministic for
(inputs, seed). Rules, in the order they are applied per speaker:

- **Who talks.** The timeline is authoritative for *when* a speaker talks (own sentences and
  backchannels, widened by ``speech_gate_margin_s``); the speaker's own audio decides *how*.
  Crosstalk or room tails on a track outside its owner's segments never move that mouth.
- **Lips.** 100 Hz RMS loudness relative to the speaker's own 90th percentile, compressed
  (``loudness_exponent``) and noise-gated, drives jawOpen; the share of 3.5–7.8 kHz energy
  (frication: s, f, t) narrows the jaw and raises the lips (mouthStretch, mouthUpperUp,
  mouthLowerDown); low-F2 voiced energy (< 900 Hz vs 0.9–2.5 kHz: u, o, w) rounds them
  (mouthFunnel, mouthPucker); short loudness dips inside running speech close the lips
  (mouthClose, mouthPress, mouthRoll). Spectral features are normalised by the speaker's own
  percentiles, so voices and rooms need no tuning. Co-articulation is an asymmetric follower
  (attack ``mouth_attack_s``, release ``mouth_release_s``) with the lips leading the sound by
  ``lip_lead_s``; the mouth channels fade to rest over the last 11 frames (the last 3 are 0).
- **Head while speaking.** Loudness accents (peaks of the syllabic envelope over its 1 s mean;
  stressed syllables are louder, so they stand in for pitch accents) give small nods, tilts
  and, on strong accents, brow raises; the yaw drifts slowly.
- **Listening** (CHAT §4.3). Nods after the partner's sentence ends and internal pauses (from
  the partner's own audio) and with the listener's own backchannels (nod + slight smile; the
  mouth moves because the word is speech); facial responses that follow the partner's emotion
  (``procedural_behaviour.LISTENER_RESPONSE``); posture sway that never stops.
- **Emotion.** The speaker's own sentence emotion (category × intensity) shapes the face
  (``SPEAKER_EXPRESSION``) and head posture, rising before the sentence and fading after it.
- **Eyes.** Blinks (renewal process, ``blink_rate_per_min`` per person, fewer while speaking),
  fixations on the partner or glances away, micro-saccades; the head follows the eyes a little.
- **Relationship** (RSATalker §3.5). One expressiveness scalar per speaker multiplies emotion,
  brows, smiles, nods, tilts and drift (sway by its square root; lips are never scaled): close
  and equal pairs are the most expressive, superior–subordinate pairs the most restrained, and
  in an unequal pair the younger speaker (by ``age_band``; roles are not in the timeline) is
  restrained further by ``subordinate_factor``. Unknown roles scale both alike.
- **Continuity.** Every channel is continuous by construction (filters, smooth kernels) and a
  final slew limiter bounds the per-frame change (``max_step``); blinks are exempt.

``flame56`` output maps the same animation: jaw = rotation about x of ``flame_jaw_open_rad ·
jawOpen`` plus about y of ``flame_jaw_side_rad · (jawLeft − jawRight)``; neck = axis-angle of
the head rotation ``R = Ry(yaw) · Rx(pitch) · Rz(roll)`` (same frame, see
``procedural_behaviour``). The 50 expression coefficients stay zero: FLAME's expression space is
a PCA basis learned from scans, and there is no data-free mapping from ARKit blendshapes to it,
so eyes, brows, smiles and lip shapes other than the jaw are lost in ``flame56``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.spatial.transform import Rotation

from dyad.domain import Timeline
from dyad.errors import InvalidInput
from dyad.rigs import get_rig
from dyad.timebase import FPS

from . import behaviour as pb
from .signal import (
    FEATURE_RATE,
    SAMPLE_RATE,
    SpeechFeatures,
    attack_release,
    frames_for_samples,
    interval_mask,
    slew_limit,
    smooth,
    speech_features,
    to_frames,
)

ARKIT = get_rig("arkit55")
_BS = pb.BS
_PITCH, _YAW, _ROLL = (ARKIT.index(n) for n in ("headPitch", "headYaw", "headRoll"))
_BLINKS = (_BS["eyeBlinkLeft"], _BS["eyeBlinkRight"])
_LIPS = ("Stretch", "LowerDown", "UpperUp", "Press")
#: Channels driven by speech; they fade to rest at the end of the clip.
SPEECH_CHANNELS = (
    *("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthRollLower", "mouthRollUpper"),
    *(f"mouth{m}{s}" for m in _LIPS for s in ("Left", "Right")),
)


@dataclass(frozen=True)
class AnimatorConfig:
    """Knobs of the procedural animator (times in seconds, angles in radians, blendshape
    weights 0–1). Defaults are tuned on espeak-ng conversations from the dialogue service."""

    #: Global multiplier of everything expressive (emotion, brows, smiles, nods, drift).
    expressiveness: float = 1.0
    #: Relationship scale: (blood & equal, non-blood & equal, blood & unequal, non-blood &
    #: unequal) — siblings, friends/couples, parent–child, manager–employee.
    relation_expressiveness: tuple[float, float, float, float] = (1.25, 1.1, 0.85, 0.65)
    #: Extra factor for the junior side of an unequal pair (elder = senior, by age band).
    subordinate_factor: float = 0.8
    #: jawOpen at full loudness, compression of loudness (RMS ** exponent), and the gate
    #: below which the compressed loudness counts as silence (0.12 ≈ −31 dB re the speaker).
    jaw_gain: float = 0.6
    loudness_exponent: float = 0.6
    noise_gate: float = 0.12
    #: Co-articulation: asymmetric follower time constants and the lips' lead over the sound.
    mouth_attack_s: float = 0.03
    mouth_release_s: float = 0.06
    lip_lead_s: float = 0.02
    #: The timeline's own segments are widened by this much before gating the mouth.
    speech_gate_margin_s: float = 0.1
    #: Own emotion rises (attack) before and fades (release) after a sentence.
    expression_attack_s: float = 0.25
    expression_release_s: float = 1.5
    #: Listener response to the partner's emotion: gain and follower time constants.
    response_gain: float = 0.8
    response_attack_s: float = 0.6
    response_release_s: float = 1.2
    #: Slight smile on the listener's own backchannel.
    backchannel_smile: float = 0.2
    #: Per-person blink rate (uniform in range, per minute) and its factors by role.
    blink_rate_per_min: tuple[float, float] = (12.0, 20.0)
    blink_speaking_factor: float = 0.65
    blink_listening_factor: float = 1.25
    blink_refractory_s: float = 0.5
    #: Listener nods: amplitude, probability after a partner sentence / an internal pause,
    #: shortest partner pause that counts as a phrase end.
    nod_gain_listen: float = 0.08
    nod_prob_phrase_end: float = 0.9
    nod_prob_pause: float = 0.5
    min_pause_s: float = 0.25
    #: Speaking accents: nod and tilt amplitude, brow raise on strong accents.
    nod_gain_speak: float = 0.015
    tilt_gain: float = 0.02
    brow_accent_gain: float = 0.25
    #: Slow motion: posture sway amplitude (per component), speaking yaw drift std.
    sway_rad: float = 0.01
    yaw_drift_rad: float = 0.04
    #: Gaze: eyeLook weight towards the partner; head yaw towards the partner; the share of
    #: eye yaw the head follows (rad per eyeLook unit); P(fixate partner) while
    #: (listening, speaking, idle).
    partner_gaze: float = 0.25
    partner_head_yaw_rad: float = 0.06
    gaze_head_follow: float = 0.2
    partner_gaze_prob: tuple[float, float, float] = (0.6, 0.35, 0.5)
    #: Per-frame change bounds (blendshape units, radians); blinks are exempt.
    max_step_blendshape: float = 0.3
    max_step_head_rad: float = 0.04
    #: flame56 mapping: jaw rotation at jawOpen = 1 and at jawLeft/jawRight = 1.
    flame_jaw_open_rad: float = 0.35
    flame_jaw_side_rad: float = 0.12

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if any(not np.isfinite(x) or x < 0 for x in (v if isinstance(v, tuple) else (v,))):
                raise InvalidInput(f"config.{f.name}", f"expected finite values ≥ 0, got {v}")
        lo, hi = self.blink_rate_per_min
        if not 0 < lo <= hi <= 120:
            raise InvalidInput("config.blink_rate_per_min", "expected 0 < low ≤ high ≤ 120")
        if not 0 <= self.noise_gate < 1:
            raise InvalidInput("config.noise_gate", "expected a value in [0, 1)")


class ProceduralAnimator:
    """Rule-based speaking and listening motion for both speakers of a conversation."""

    def __init__(self, config: AnimatorConfig | None = None) -> None:
        self.config = config or AnimatorConfig()

    def animate(
        self,
        track_a: np.ndarray,
        track_b: np.ndarray,
        timeline: Timeline,
        *,
        seed: int = 0,
        rig: str = "arkit55",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Motion of speaker A and speaker B, each ``[T, C]`` float32 for ``rig``."""
        target = get_rig(rig)
        tracks = {"a": _check_track(track_a, "track_a"), "b": _check_track(track_b, "track_b")}
        n = tracks["a"].size
        if tracks["b"].size != n:
            raise InvalidInput("track_b", f"{tracks['b'].size} samples; track_a has {n}")
        _check_timeline(timeline, n)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise InvalidInput("seed", f"expected an integer, got {seed!r}")
        cfg, num_frames = self.config, frames_for_samples(n)
        scales = pb.relation_scales(
            timeline.relation,
            timeline.speakers,
            cfg.relation_expressiveness,
            cfg.subordinate_factor,
        )
        feats = {}
        for spk in ("a", "b"):
            spans = [(s.start_s, s.end_s) for s in timeline.segments if s.speaker == spk]
            gate = interval_mask(
                spans, num_frames * 4, FEATURE_RATE, pad_s=cfg.speech_gate_margin_s
            )
            feats[spk] = speech_features(
                tracks[spk],
                gate,
                num_frames=num_frames,
                exponent=cfg.loudness_exponent,
                noise_gate=cfg.noise_gate,
            )
        out = []
        for k, spk in enumerate(("a", "b")):
            seq = np.random.SeedSequence([int(seed) % 2**64, k])
            roles = pb.read_roles(timeline, spk, num_frames)
            other = feats["b" if spk == "a" else "a"]
            arkit = self._speaker(spk, feats[spk], other, roles, scales[spk], seq)
            motion = arkit if target.name == "arkit55" else self.to_flame(arkit)
            out.append(target.validate(target.clip(motion), field_name=f"motion_{spk}"))
        return out[0], out[1]

    # -- one speaker -------------------------------------------------------------------------

    def _speaker(
        self,
        spk: str,
        own: SpeechFeatures,
        other: SpeechFeatures,
        roles: pb.Roles,
        scale: float,
        seq: np.random.SeedSequence,
    ) -> np.ndarray:
        cfg = self.config
        # one stream per behaviour: changing one rule does not reshuffle the others
        mouth_rng, accent_rng, gaze_rng, blink_rng, head_rng = (
            np.random.default_rng(s) for s in seq.spawn(5)
        )
        num_frames = roles.speaking.size
        scale *= cfg.expressiveness
        side = pb.PARTNER_SIDE[spk]
        out = np.zeros((num_frames, ARKIT.num_channels))

        def add(name: str, value: np.ndarray | float) -> None:
            out[:, ARKIT.index(name)] += value

        # emotion: own expression + response to the partner, scaled by the relationship
        own_w = attack_release(
            roles.own_emotion, FPS, cfg.expression_attack_s, cfg.expression_release_s
        )
        resp_w = attack_release(
            roles.partner_emotion, FPS, cfg.response_attack_s, cfg.response_release_s
        )
        out[:, :52] += scale * (
            own_w @ pb.SPEAKER_EXPRESSION + cfg.response_gain * resp_w @ pb.LISTENER_RESPONSE
        )
        bc = interval_mask([(s, e + 0.3) for s, e in roles.backchannels], num_frames, FPS)
        bc_smile = smooth(bc.astype(float), FPS, 0.15) * cfg.backchannel_smile * scale
        add("mouthSmileLeft", bc_smile)
        add("mouthSmileRight", bc_smile)

        # lips
        for name, value in self._mouth(own, num_frames, mouth_rng).items():
            add(name, value)

        # speaking accents: nods, tilts, brows
        pitch, roll, brow = pb.speaking_accents(
            to_frames(own.drive, num_frames),
            roles.own_sentence,
            (cfg.nod_gain_speak, cfg.tilt_gain, cfg.brow_accent_gain),
            accent_rng,
        )
        add("browInnerUp", 0.8 * scale * brow)
        add("browOuterUpLeft", scale * brow)
        add("browOuterUpRight", scale * brow)

        # eyes
        gaze = pb.gaze_path(
            num_frames,
            roles.speaking,
            roles.listening,
            roles.own_starts,
            side,
            cfg.partner_gaze,
            cfg.partner_gaze_prob,
            gaze_rng,
        )
        for name, value in pb.gaze_channels(gaze).items():
            add(name, value)
        factor = np.where(
            roles.speaking,
            cfg.blink_speaking_factor,
            np.where(roles.listening, cfg.blink_listening_factor, 1.0),
        )
        # the person's rate is their mean over the clip; the role only redistributes it
        rate = blink_rng.uniform(*cfg.blink_rate_per_min) * factor / factor.mean()
        blink = pb.blink_curve(num_frames, rate, blink_rng, cfg.blink_refractory_s)
        out[:, _BLINKS[0]] = blink
        out[:, _BLINKS[1]] = blink

        # head
        speaking = smooth(roles.speaking.astype(float), FPS, 0.4)
        listening = smooth(roles.listening.astype(float), FPS, 0.4)
        attention = listening + 0.5 * speaking + 0.8 * np.clip(1 - listening - speaking, 0, 1)
        drift = smooth(head_rng.normal(size=num_frames), FPS, 1.0)
        drift *= cfg.yaw_drift_rad / max(float(drift.std()), 1e-9) * speaking
        pauses = pb.phrase_pauses(other.active, roles.partner_sentences, cfg.min_pause_s)
        nods = pb.listener_nods(
            num_frames,
            roles,
            pauses,
            cfg.nod_gain_listen,
            cfg.nod_prob_phrase_end,
            cfg.nod_prob_pause,
            head_rng,
        )
        posture = own_w @ pb.EMOTION_POSTURE
        head = pb.sway(num_frames, cfg.sway_rad * np.sqrt(scale), head_rng)
        head[:, 0] += scale * (nods + pitch + posture[:, 0])
        head[:, 1] += side * cfg.partner_head_yaw_rad * attention
        head[:, 1] += smooth(cfg.gaze_head_follow * gaze[:, 0], FPS, 0.25) + scale * drift
        head[:, 2] += scale * (roll + posture[:, 1])
        out[:, _PITCH : _ROLL + 1] = head

        # end of clip: the mouth comes to rest, the last 3 frames exactly
        ramp = np.clip((num_frames - 3 - np.arange(num_frames)) / 8.0, 0.0, 1.0)
        for name in SPEECH_CHANNELS:
            out[:, ARKIT.index(name)] *= ramp
        step = np.full(ARKIT.num_channels, cfg.max_step_blendshape)
        step[_PITCH : _ROLL + 1] = cfg.max_step_head_rad
        step[list(_BLINKS)] = np.inf
        return slew_limit(ARKIT.clip(out), step).astype(np.float32)

    def _mouth(
        self, f: SpeechFeatures, num_frames: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """Speech-driven mouth channels at 25 fps (computed at 100 Hz, averaged per frame)."""
        cfg = self.config
        lead = round(cfg.lip_lead_s * FEATURE_RATE)
        x = np.stack([f.drive, f.fric, f.rounding, f.closure], axis=1)
        if lead:
            x = np.concatenate([x[lead:], np.zeros((lead, 4))])
        d, fr, r, k = attack_release(x, FEATURE_RATE, cfg.mouth_attack_s, cfg.mouth_release_s).T
        d2 = np.minimum(1.0, 2.0 * d)
        jaw = cfg.jaw_gain * d * (1 - 0.4 * fr) * (1 - 0.25 * r)
        chans = {
            "jawOpen": jaw,
            "mouthClose": 0.6 * k * smooth(jaw, FEATURE_RATE, 0.12),
            "mouthFunnel": 0.45 * r * d2,
            "mouthPucker": 0.4 * r * d2,
            "mouthRollLower": 0.25 * k,
            "mouthRollUpper": 0.15 * k,
        }
        asym = rng.uniform(-0.06, 0.06)  # a person's mouth is a little lopsided
        for side, g in (("Left", 1 + asym), ("Right", 1 - asym)):
            chans[f"mouthStretch{side}"] = g * (0.25 * fr * d2 + 0.1 * d * (1 - r) * (1 - fr))
            chans[f"mouthLowerDown{side}"] = g * (0.3 * d * (1 - r) + 0.15 * fr * d2)
            chans[f"mouthUpperUp{side}"] = g * (0.15 * d * (1 - r) + 0.2 * fr * d2)
            chans[f"mouthPress{side}"] = g * 0.35 * k
        return {name: to_frames(v, num_frames) for name, v in chans.items()}

    # -- rigs --------------------------------------------------------------------------------

    def to_flame(self, arkit: np.ndarray) -> np.ndarray:
        """``arkit55`` ``[T, 55]`` → ``flame56`` ``[T, 56]`` (mapping in the module docstring)."""
        cfg = self.config
        out = np.zeros((arkit.shape[0], 56), np.float64)
        out[:, 50] = cfg.flame_jaw_open_rad * arkit[:, _BS["jawOpen"]]
        out[:, 51] = cfg.flame_jaw_side_rad * (arkit[:, _BS["jawLeft"]] - arkit[:, _BS["jawRight"]])
        ypr = arkit[:, [_YAW, _PITCH, _ROLL]].astype(np.float64)
        out[:, 53:56] = Rotation.from_euler("YXZ", ypr).as_rotvec()
        return out.astype(np.float32)


def _check_track(track: object, name: str) -> np.ndarray:
    if not isinstance(track, np.ndarray):
        raise InvalidInput(name, f"expected a numpy array, got {type(track).__name__}")
    if track.ndim != 1 or track.size == 0:
        raise InvalidInput(name, f"expected a non-empty mono [N] array, got shape {track.shape}")
    if not np.issubdtype(track.dtype, np.floating):
        raise InvalidInput(name, f"expected float samples in [-1, 1], got dtype {track.dtype}")
    if not np.isfinite(track).all():
        raise InvalidInput(name, "contains NaN or Inf")
    return track.astype(np.float32, copy=False)


def _check_timeline(timeline: object, num_samples: int) -> None:
    if not isinstance(timeline, Timeline):
        raise InvalidInput("timeline", f"expected a Timeline, got {type(timeline).__name__}")
    if timeline.sample_rate != SAMPLE_RATE:
        raise InvalidInput("timeline", f"sample_rate {timeline.sample_rate}; expected 16000")
    seconds = num_samples / SAMPLE_RATE
    if timeline.duration_s > seconds + 1.0:  # a shorter timeline leaves the rest silent
        raise InvalidInput(
            "timeline", f"duration_s {timeline.duration_s:.3f} but the tracks last {seconds:.3f}"
        )
    timeline.validate("timeline")
