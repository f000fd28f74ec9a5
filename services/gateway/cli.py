"""``dyad submit | status | watch | cancel | jobs | avatars``: the Job API from a shell (via
``dyad.client``).

Endpoint and token: ``--endpoint``/``--token`` or ``DYAD_ENDPOINT``/``DYAD_TOKEN``. Jobs print
as JSON (``Job.to_dict()``); progress lines go to stderr. Errors print one line and exit 2
(bad input, bad token, unknown job); a waited-for job that did not succeed exits 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from dyad.domain import parse_turn_range
from dyad.errors import InvalidInput

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
STATUSES = ("queued", "running", "retrying", "succeeded", "failed", "cancelled")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--endpoint",
        help="gateway host:port or grpcs://host:port ($DYAD_ENDPOINT; default: `dyad serve`'s)",
    )
    p.add_argument("--token", help="the team's bearer token ($DYAD_TOKEN)")
    p.add_argument("--timeout", type=float, default=30.0, help="deadline per call, seconds")


def register_submit(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("submit", help="submit a conversation job; prints the job as JSON")
    _common(s)
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", help="what the conversation is about")
    src.add_argument("--audio-a", help="speaker A's track: URI in the store (with --audio-b)")
    src.add_argument("--stereo", help="one two-channel recording: URI in the store")
    s.add_argument("--audio-b", help="speaker B's track: URI in the store")
    s.add_argument("--n", type=int, default=1, help="conversations to write from the prompt")
    s.add_argument("--priority", choices=("low", "normal", "high"), default="normal")
    s.add_argument("--idempotency-key", default="", help="resubmitting with it returns the job")
    s.add_argument("--motion-backend", choices=("procedural", "neural"), default="")
    s.add_argument("--rig", choices=("arkit55", "flame56"), default="")
    s.add_argument(
        "--refine",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="diffusion refinement of the motion (default: the pipeline's, on)",
    )
    s.add_argument("--layout", choices=("side", "pip", "single"), default="")
    s.add_argument("--seed", type=int)
    s.add_argument("--turns", default="", help="MIN-MAX turns per dialogue within 5-10")
    s.add_argument("--head-px", type=int, help="pixels per head in the video (default 512)")
    s.add_argument("--refine-steps", type=int, help="denoising steps of the refinement")
    s.add_argument("--voice-a", default="", help="speaker A's voice, `engine:name`")
    s.add_argument("--voice-b", default="", help="speaker B's voice, `engine:name`")
    s.add_argument("--avatar-a", default="", help="speaker A's avatar: the team's, by name or id")
    s.add_argument("--avatar-b", default="", help="speaker B's avatar: the team's, by name or id")
    s.add_argument(
        "--per-speaker-videos",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also render speaker_a.mp4 / speaker_b.mp4 beside the composite (default on)",
    )
    _waiting(s)
    s.set_defaults(func=submit)


def register_status(sub: argparse._SubParsersAction) -> None:
    st = sub.add_parser("status", help="a job's status, progress per stage and results")
    _common(st)
    st.add_argument("job_id")
    st.add_argument("--json", action="store_true", help="print the job as JSON")
    st.set_defaults(func=status)


def register_watch(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("watch", help="follow a job's progress until it ends")
    _common(w)
    w.add_argument("job_id")
    _waiting(w, wait_flag=False)
    w.set_defaults(func=watch)


def register_cancel(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("cancel", help="cancel a job (running jobs stop between stages)")
    _common(c)
    c.add_argument("job_id")
    c.set_defaults(func=cancel)


def register_jobs(sub: argparse._SubParsersAction) -> None:
    j = sub.add_parser("jobs", help="list the team's jobs, newest first")
    _common(j)
    j.add_argument("--status", action="append", choices=STATUSES, default=[], help="repeatable")
    j.add_argument("--since", help="created after: ISO time or age like 30m, 2h, 1d")
    j.add_argument("--until", help="created before: ISO time or age")
    j.add_argument("--limit", type=int, default=20)
    j.add_argument("--json", action="store_true", help="one JSON array")
    j.set_defaults(func=jobs)


def register_avatars(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("avatars", help="the team's avatars on the Job API: upload, list, fit")
    verbs = a.add_subparsers(dest="verb", required=True)
    up = verbs.add_parser("upload", help="store an avatar directory as the team's avatar NAME")
    _common(up)
    up.add_argument("directory", type=Path, help="config.json + model.safetensors")
    up.add_argument("--name", required=True, help="what jobs call it (--avatar-a NAME)")
    up.set_defaults(func=avatars_upload)
    fit = verbs.add_parser(
        "fit", help="queue a job fitting an avatar to a video in the store (the team's NAME)"
    )
    _common(fit)
    fit.add_argument(
        "video",
        help="a local video file (uploaded first, UploadVideo) or the URI of one in the store "
        "(uploads/<team>/… or cas/…)",
    )
    fit.add_argument("--name", required=True, help="the fitted avatar's name")
    fit.add_argument("--iters", type=int, help="optimisation steps (default: the fitter's)")
    fit.add_argument("--size-px", type=int, help="frame size the fit works on (64-1024)")
    fit.add_argument("--priority", choices=("low", "normal", "high"), default="normal")
    fit.add_argument("--idempotency-key", default="", help="resubmitting with it returns the job")
    _waiting(fit)
    fit.set_defaults(func=avatars_fit)
    ls = verbs.add_parser("list", help="the team's avatars, by name")
    _common(ls)
    ls.add_argument("--json", action="store_true", help="one JSON array")
    ls.set_defaults(func=avatars_list)


def _waiting(p: argparse.ArgumentParser, *, wait_flag: bool = True) -> None:
    if wait_flag:
        p.add_argument("--wait", action="store_true", help="follow the job until it ends")
    p.add_argument("--download", type=Path, help="with the results: fetch them into this folder")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--watch-timeout", type=float, default=3600.0, help="longest wait, seconds")


def _client(args: argparse.Namespace) -> Any:
    from dyad.client import DyadClient

    return DyadClient(args.endpoint, args.token, args.timeout)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True))


def _progress_line(ev: Any) -> None:
    stage = f" {ev.stage} {ev.stage_progress:4.0%}" if ev.stage else ""
    msg = f" {ev.message}" if ev.message else ""
    print(f"{ev.job_id} {ev.status} {ev.progress:4.0%}{stage}{msg}", file=sys.stderr, flush=True)


def _follow(client: Any, job_id: str, args: argparse.Namespace, created: bool | None = None) -> int:
    """Watch the job to its end, download if asked; print the final JSON; 0 iff succeeded."""
    on_progress = None if args.quiet else _progress_line
    job = client.watch(job_id, on_progress=on_progress, timeout=args.watch_timeout)
    out = job.to_dict()
    if created is not None:
        out["created"] = created  # the final JSON keeps what the submit call said
    if args.download and job.succeeded:
        files = client.download(job, args.download)
        out["files"] = {name: str(path) for name, path in files.items()}
    _print_json(out)
    return 0 if job.succeeded else 1


def submit(args: argparse.Namespace) -> int:
    if args.audio_a and not args.audio_b:
        raise InvalidInput("--audio-b", "needed with --audio-a")
    if args.audio_b and not args.audio_a:
        raise InvalidInput("--audio-a", "needed with --audio-b")
    if args.download and not args.wait:
        raise InvalidInput("--download", "needs --wait")
    audio = None
    if args.audio_a:
        audio = {"track_a": args.audio_a, "track_b": args.audio_b}
    elif args.stereo:
        audio = {"stereo": args.stereo}
    with _client(args) as client:
        job = client.submit(
            args.prompt,
            audio=audio,
            n=args.n,
            priority=args.priority,
            idempotency_key=args.idempotency_key,
            motion_backend=args.motion_backend,
            rig=args.rig,
            refine=args.refine,
            layout=args.layout,
            seed=args.seed,
            turns=parse_turn_range(args.turns, "--turns"),
            head_px=args.head_px,
            refine_steps=args.refine_steps,
            voice_a=args.voice_a,
            voice_b=args.voice_b,
            per_speaker_videos=args.per_speaker_videos,
            avatar_a=args.avatar_a,
            avatar_b=args.avatar_b,
        )
        if not args.wait:
            _print_json(job.to_dict())
            return 0
        if not args.quiet:
            print(f"submitted {job.job_id}", file=sys.stderr, flush=True)
        return _follow(client, job.job_id, args, job.created)


def status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.get(args.job_id)
    if args.json:
        _print_json(job.to_dict())
        return 0
    print(f"{job.job_id}  {job.status}  {job.progress:.0%}  attempt {job.attempts}  {job.priority}")
    for s in job.stages:
        print(f"  {s.name:<16} {s.progress:5.0%}  {s.status}")
    if job.error:
        print(f"  error: {job.error['code']}: {job.error['message']}")
    for name, uri in job.result_uris.items():
        print(f"  {name:<16} {uri}")
    return 0


def watch(args: argparse.Namespace) -> int:
    with _client(args) as client:
        return _follow(client, args.job_id, args)


def cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _print_json(client.cancel(args.job_id).to_dict())
    return 0


def parse_time(value: str, flag: str) -> float:
    """Seconds since the epoch from an ISO 8601 time or an age (``30m`` = 30 minutes ago)."""
    m = _RELATIVE.match(value.strip())
    if m:
        return time.time() - float(m.group(1)) * _UNIT_S[m.group(2)]
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(flag, "an ISO time (2026-01-31T12:00) or an age (30m, 2h, 1d)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def jobs(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise InvalidInput("--limit", "at least 1")
    after = parse_time(args.since, "--since") if args.since else None
    before = parse_time(args.until, "--until") if args.until else None
    with _client(args) as client:
        found = client.list(
            statuses=tuple(args.status),
            created_after=after,
            created_before=before,
            limit=args.limit,
        )
    if args.json:
        _print_json([j.to_dict() for j in found])
        return 0
    for j in found:
        created = j.to_dict()["created_at"]
        print(f"{j.job_id}  {j.status:<9}  {j.progress:4.0%}  {j.priority:<6}  {created}")
    return 0


def avatars_upload(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _print_json(client.upload_avatar(args.directory, args.name).to_dict())
    return 0


def avatars_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        found = client.list_avatars()
    if args.json:
        _print_json([a.to_dict() for a in found])
        return 0
    for a in found:
        print(f"{a.name:<24} {a.avatar_id}  {a.rig:<8} {a.num_gaussians:>8} gaussians  {a.head}")
    return 0


def avatars_fit(args: argparse.Namespace) -> int:
    if args.download and not args.wait:
        raise InvalidInput("--download", "needs --wait")
    with _client(args) as client:
        video: Any = args.video
        if "://" not in video and Path(video).is_file():
            video = client.upload_video(video)
        job = client.fit_avatar(
            video,
            args.name,
            iters=args.iters,
            size_px=args.size_px,
            priority=args.priority,
            idempotency_key=args.idempotency_key,
        )
        if not args.wait:
            _print_json(job.to_dict())
            return 0
        return _follow(client, job.job_id, args, job.created)
