"""``dyad audio encode``: one audio file → ``[T, D]`` features in a ``.npy``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from dyad.errors import InvalidInput
from dyad.services.audio_encoder.settings import BACKENDS, AudioEncoderSettings


def register(sub: argparse._SubParsersAction) -> None:
    audio = sub.add_parser("audio", help="audio features")
    audio_sub = audio.add_subparsers(title="commands", metavar="COMMAND")
    p = audio_sub.add_parser(
        "encode", help="encode an audio file into features aligned to motion frames"
    )
    p.add_argument("--audio", required=True, type=Path, help="audio file (any rate/width/channels)")
    p.add_argument("--backend", choices=BACKENDS, help="default: DYAD_AUDIO_BACKEND (mel)")
    p.add_argument("--model-dir", type=Path, help="local wav2vec2 directory (DYAD_AUDIO_MODEL_DIR)")
    p.add_argument("--fps", type=int, default=25, help="motion frames per second (default 25)")
    p.add_argument("--out", required=True, type=Path, help="output .npy, [T, D] float32")
    p.set_defaults(func=encode)
    audio.set_defaults(func=lambda _args: audio.print_help() or 2)


def encode(args: argparse.Namespace) -> int:
    # imported when the command runs: the core loads torch, too heavy for `dyad` start-up
    import numpy as np

    from dyad.services.audio_encoder.core import AudioEncoder, load_backend, read_audio

    settings = AudioEncoderSettings.from_env()
    if args.model_dir is not None:
        settings = dataclasses.replace(settings, model_dir=args.model_dir)
    if not args.audio.is_file():
        raise InvalidInput("--audio", f"{args.audio} is not a file")
    if args.out.suffix != ".npy":
        raise InvalidInput("--out", "must end in .npy")
    if not args.out.parent.is_dir():
        raise InvalidInput("--out", f"directory {args.out.parent} does not exist")
    wave = read_audio(args.audio.read_bytes(), "--audio")
    encoder = AudioEncoder(load_backend(args.backend or settings.backend, settings), settings)
    feats = encoder.encode([wave], fps=args.fps, fields=["--audio"])[0]
    tmp = args.out.with_name(f".{args.out.name}.part.npy")
    np.save(tmp, feats, allow_pickle=False)
    tmp.replace(args.out)
    print(json.dumps({"frames": int(feats.shape[0]), "dim": int(feats.shape[1]), "fps": args.fps}))
    return 0
