"""``dyad dialogue write | speak | from-audio``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dyad.domain import SCENARIOS, Dialogue
from dyad.errors import InvalidInput
from dyad.services.dialogue.settings import SPEECH_BACKENDS, WRITERS, DialogueSettings


def register(sub: argparse._SubParsersAction) -> None:
    dlg = sub.add_parser("dialogue", help="write dialogues, speak them, or segment recordings")
    cmds = dlg.add_subparsers(title="commands", metavar="COMMAND")
    dlg.set_defaults(func=lambda _a: dlg.print_help() or 2)

    w = cmds.add_parser("write", help="prompt → N dialogues as JSON")
    w.add_argument("--prompt", required=True)
    w.add_argument("--n", type=int, default=1, help="how many dialogues (1–64)")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--backend", choices=WRITERS, help="default: DYAD_DIALOGUE_WRITER (offline)")
    w.add_argument("--scenario", choices=SCENARIOS)
    w.add_argument("--temperature", type=float, default=0.8, help="llm backend only")
    w.add_argument("--out", required=True, type=Path)
    w.set_defaults(func=write)

    s = cmds.add_parser("speak", help="dialogue JSON → two tracks, mix and timeline.json")
    s.add_argument("--dialogue", required=True, type=Path)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--speech", choices=SPEECH_BACKENDS, help="default: DYAD_DIALOGUE_SPEECH (auto)")
    s.add_argument("--voice-a", default="", help="speaker A's voice, `engine:name`; default: cast")
    s.add_argument("--voice-b", default="", help="speaker B's voice, `engine:name`; default: cast")
    s.add_argument("--p-inter", type=float, help="interactive-word probability (default 0.5)")
    s.add_argument("--out", required=True, type=Path)
    s.set_defaults(func=speak)

    v = cmds.add_parser("voices", help="the installed speech engines and voices")
    v.add_argument("--speech", choices=SPEECH_BACKENDS, help="default: DYAD_DIALOGUE_SPEECH (auto)")
    v.add_argument("--json", action="store_true", help="one JSON object per voice")
    v.set_defaults(func=voices)

    f = cmds.add_parser("from-audio", help="recorded conversation → timeline.json + tracks")
    f.add_argument(
        "--audio", required=True, type=Path, help="two-channel file, or speaker A's track"
    )
    f.add_argument("--audio-b", type=Path, help="speaker B's track (with a mono --audio)")
    f.add_argument("--transcript", type=Path, help='optional lines "A: text" / "B: text"')
    f.add_argument("--out", required=True, type=Path)
    f.set_defaults(func=from_audio)


def _read(path: Path, flag: str) -> bytes:
    if not path.is_file():
        raise InvalidInput(flag, f"{path} is not a file")
    return path.read_bytes()


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)


def write(args: argparse.Namespace) -> int:
    # imported here: the writer loads and checks the phrasebook, which `dyad` need not do to start
    from dyad.services.dialogue.writing.writer import DialogueWriter

    dialogues = DialogueWriter(DialogueSettings.from_env()).write(
        args.prompt,
        args.n,
        seed=args.seed,
        backend=args.backend or "",
        temperature=args.temperature,
        scenario=args.scenario,
    )
    # Everything is written only after every dialogue succeeded: nothing partial.
    args.out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, d in enumerate(dialogues):
        path = args.out / f"dialogue_{k:03d}.json"
        _write_json(path, d.to_dict())
        paths.append(str(path))
    print(json.dumps({"dialogues": paths}))
    return 0


def speak(args: argparse.Namespace) -> int:
    # imported here: speaking loads pyroomacoustics and scipy.signal, too heavy for `dyad` to start
    from dyad.services.dialogue.core import engine_from_settings
    from dyad.services.dialogue.speech.conversation import speak as speak_dialogue

    try:
        raw = json.loads(_read(args.dialogue, "--dialogue"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidInput("--dialogue", f"not JSON: {e}") from None
    dialogue = Dialogue.from_dict(raw)
    settings = DialogueSettings.from_env()
    p = settings.p_inter if args.p_inter is None else args.p_inter
    if not 0.0 <= p <= 1.0:
        raise InvalidInput("--p-inter", "a probability, between 0 and 1")
    engine = engine_from_settings(settings, args.speech or "")
    wanted = {"a": (args.voice_a, "--voice-a"), "b": (args.voice_b, "--voice-b")}
    conv = speak_dialogue(dialogue, engine, seed=args.seed, p_inter=p, voices=wanted)
    files = conv.write(args.out)
    segs = conv.timeline.segments
    print(
        json.dumps(
            {
                "duration_s": round(conv.timeline.duration_s, 3),
                "sentences": sum(s.kind == "sentence" for s in segs),
                "backchannels": sum(s.kind == "backchannel" for s in segs),
                "voices": {s: who.voice for s, who in conv.timeline.speakers.items()},
                "files": [str(f) for f in files],
            }
        )
    )
    return 0


def voices(args: argparse.Namespace) -> int:
    # imported here: discovery looks for binaries and voice files
    from dyad.services.dialogue.core import engine_from_settings
    from dyad.services.dialogue.speech.voicebox import discover

    settings = DialogueSettings.from_env()
    engine = engine_from_settings(settings, args.speech or "")
    found = engine.voices()
    if args.json:
        for voice in found:
            print(json.dumps(voice.to_dict()))
        return 0
    print(f"{'voice':32} {'engine':8} {'gender':10} {'age':7} {'rate':>6}  licence")
    for voice in found:
        print(
            f"{voice.id:32} {voice.engine:8} {voice.gender:10} {voice.age_band:7} "
            f"{voice.sample_rate:>6}  {voice.licence}"
        )
    if (args.speech or settings.speech) == "auto":
        _found, missing = discover(piper_voices=settings.tts_piper_voices)
        for name, why in missing.items():
            print(f"(not installed: {name} — {why})")
    return 0


def from_audio(args: argparse.Namespace) -> int:
    # imported here: dyad.media loads scipy.signal, too heavy for `dyad` to start
    from dyad.media import write_wav
    from dyad.services.dialogue.segmentation import (
        load_pair,
        parse_transcript,
        segment_conversation,
    )

    a, b = load_pair(
        _read(args.audio, "--audio"), _read(args.audio_b, "--audio-b") if args.audio_b else None
    )
    transcript = None
    if args.transcript:
        transcript = parse_transcript(
            _read(args.transcript, "--transcript").decode("utf-8", "replace")
        )
    timeline = segment_conversation(a, b, transcript=transcript)
    args.out.mkdir(parents=True, exist_ok=True)
    write_wav(args.out / "speaker_a.wav", a, 16_000, subtype="FLOAT")
    write_wav(args.out / "speaker_b.wav", b, 16_000, subtype="FLOAT")
    _write_json(args.out / "timeline.json", timeline.to_dict())
    print(
        json.dumps(
            {"duration_s": round(timeline.duration_s, 3), "segments": len(timeline.segments)}
        )
    )
    return 0
