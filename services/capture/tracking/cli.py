"""``dyad track --video V.mp4 [--face largest|left|right|both] --out DIR [--frames]``.

Writes DIR atomically (a temporary folder beside it, renamed when complete): one face's files
(``tracking/store.py``) in DIR, or ``DIR/left`` and ``DIR/right`` for ``--face both``. Prints a
JSON summary line on stdout; a progress bar on stderr when it is a terminal. Heavy modules
(av, mediapipe) load only when the command runs (``tests/test_cli_startup.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dyad.errors import InvalidInput
from dyad.progress import count_bar

FACES = ("largest", "left", "right", "both")
NO_AUDIO = "the video has no audio stream: no audio.wav written"


def add_track_command(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("track", help="video → tracked face: arkit55 motion, landmarks, audio")
    t.add_argument("--video", required=True, type=Path, help="any video PyAV/FFmpeg reads")
    t.add_argument(
        "--face",
        choices=FACES,
        default="largest",
        help="which face: largest (default; of two people, the larger one), left, right, "
        "or both (DIR/left and DIR/right)",
    )
    t.add_argument("--out", required=True, type=Path, help="output directory (must not exist)")
    t.add_argument(
        "--frames",
        action="store_true",
        help="also save the 25 fps frames (DIR/frames/cam00/*.png): DIR becomes a capture "
        "folder for `dyad avatar fit --frames DIR`",
    )
    t.add_argument(
        "--max-side",
        type=int,
        default=0,
        help="resize frames whose longer side is larger (default DYAD_TRACK_MAX_SIDE, 1280)",
    )
    t.add_argument(
        "--focal-px",
        type=float,
        default=None,
        help="focal length in pixels of the tracked frames (default: a 63° vertical field of "
        "view, MediaPipe's own assumption)",
    )
    t.set_defaults(func=track)


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput("--out", f"{out} exists and is not an empty directory")
    if not out.parent.is_dir():
        raise InvalidInput("--out", f"directory does not exist: {out.parent}")


def track(args: argparse.Namespace) -> int:
    from dyad.media.image import png_bytes
    from dyad.services.capture.settings import CaptureSettings
    from dyad.services.capture.tracking import extract_audio_16k, save_track, track_video
    from dyad.services.capture.tracking.video import probe_video

    _check_out(args.out)
    settings = CaptureSettings.from_env()
    max_side = args.max_side or settings.track_max_side
    probe_video(args.video)  # an unreadable or too short video fails before anything is made
    names = ("left", "right") if args.face == "both" else ("",)
    tmp = Path(tempfile.mkdtemp(prefix=f".{args.out.name}.", dir=args.out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it 0700; outputs are read by other users too
        frame_dirs = [tmp / n / "frames" / "cam00" for n in names]
        if args.frames:
            for d in frame_dirs:
                d.mkdir(parents=True)

        def save_frame(t: int, rgb: Any) -> None:
            data = png_bytes(rgb)
            for d in frame_dirs:
                (d / f"{t:06d}.png").write_bytes(data)

        start = time.perf_counter()
        with count_bar("track", "frames") as bar:
            task = bar.add_task("track", total=None)
            tracks = track_video(
                args.video,
                face=args.face,
                max_side=max_side,
                focal_px=args.focal_px,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                on_frame=save_frame if args.frames else None,
            )
        seconds = time.perf_counter() - start
        audio = extract_audio_16k(args.video)
        for n, tr in zip(names, tracks, strict=True):
            save_track(tmp / n if n else tmp, tr, audio=audio)
        if args.out.exists():
            args.out.rmdir()  # empty, checked above
        os.replace(tmp, args.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    frames = tracks[0].num_frames
    summary: dict[str, Any] = {
        "out": str(args.out),
        "frames": frames,
        "fps": tracks[0].fps,
        "size": list(tracks[0].size),
        "faces": {
            (tr.face): {"detected_fraction": round(float(tr.detected.mean()), 4)} for tr in tracks
        },
        "detected_fraction": round(min(float(tr.detected.mean()) for tr in tracks), 4),
        "seconds": round(seconds, 2),
        "tracking_fps": round(frames / max(seconds, 1e-9), 2),
        "audio": "audio.wav" if audio is not None else None,
    }
    if audio is None:
        summary["note"] = NO_AUDIO
    print(json.dumps(summary))
    sys.stdout.flush()
    return 0
