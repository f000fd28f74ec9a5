"""DualTalk's motion metrics — FD, P-FD, MSE, SID, rPCC per channel group — as the released
``metric/metric.py`` computes them (models.md §1.5), in numpy/scipy only.

Groups (``GROUPS``; SID's k in brackets):

- ``flame56``: ``exp`` = [0:50] (k 40), ``jaw`` = [50:53] (k 10), ``pose`` = [53:56] (k 10,
  DECA's global head rotation used as the neck) — the release's EXP / JAW / POSE.
- ``arkit55``: ``mouth`` = jawOpen, jawForward/Left/Right, every ``mouth*`` channel, cheekPuff,
  tongueOut (29 channels, k 40); ``face`` = the other 23 blendshapes: eyes, brows, cheekSquint,
  noseSneer (k 40); ``pose`` = headPitch/Yaw/Roll (k 10). Our choice, by the release's rule:
  k 40 for many-channel expression groups, 10 for 3-channel pose-like groups.

Release behaviours replicated:

- **Length**: prediction, GT and partner GT are cut to their common minimum length.
- **Per clip, then the mean over clips** (``np.mean``: one NaN clip makes the mean NaN).
- **FD** (``frechet_distance(pred, gt)``): mean and ``np.cov(rowvar=False)`` (ddof 1) of the
  frames; ``|μ1−μ2|² + tr Σ1 + tr Σ2 − 2 tr sqrtm(Σ1·Σ2)``. When sqrtm's result has a
  non-finite entry, it is recomputed as ``sqrtm((Σ1+εI)(Σ2+εI))``, ε = 1e-6 (logged). A
  complex result is accepted and its real part kept when the imaginary parts of its *diagonal*
  are all within 1e-3 of 0 (``np.allclose(…, atol=1e-3)``); otherwise the release raises
  (``ValueError``), here InvalidInput naming the prediction. scipy ≥ 1.16's sqrtm produces
  non-finite results less often than the release's scipy 1.9, so the fallback fires less.
- **P-FD**: FD between ``[partner_gt ‖ gt]`` and ``[partner_gt ‖ pred]`` (channel concat).
- **MSE**: ``mean((pred − gt)²)`` over frames and the group's channels.
- **rPCC**: ``|r(gt, partner) − r(pred, partner)|``, ``r`` = ``np.corrcoef`` of the two
  ``[T, c]`` arrays flattened: one correlation over all elements of the group, not a mean of
  per-channel ones. A constant flattened array gives NaN, as in the release. Identical pred
  and GT give exactly 0.
- **SID**: KMeans with k clusters on one clip's frames, the other array's frames assigned to
  the nearest centre; ``−Σ p·log2(p + 1e-6)`` over the k cluster shares. The release's function
  is ``sid(gt, pred, k)`` but is called with ``(pred, gt)``, so KMeans is **fit on the
  prediction and the GT frames are assigned**: ``sid_fit="pred"`` (default). ``sid_fit="gt"``
  fits on GT and assigns the prediction (the function's evident intent). KMeans follows
  scikit-learn's ``KMeans(k, random_state=0, n_init='auto')`` (one run): greedy k-means++ seeding
  (2 + ⌊ln k⌋ candidates per centre, drawn from ``RandomState(0)`` in sklearn's order), Lloyd
  iterations (≤ 300) until labels stop changing or the squared centre shift ≤ 1e-4 · mean
  per-channel variance, empty clusters re-seeded with the farthest frames. Computed in float64
  (sklearn keeps float32 input in float32), so values can differ in the last digits. sqrtm is
  called without ``disp`` (deprecated) and its LinAlgWarning silenced, as ``disp=False`` did.
- A clip shorter than the largest k of its rig is refused (sklearn refuses T < k).

Not computed: the release's STS, diversity and variance (not in DualTalk's tables).
"""

from __future__ import annotations

import logging
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import linalg

from dyad.errors import InvalidInput, NotFound
from dyad.rigs import CHANNEL_GROUPS, Rig, get_rig

log = logging.getLogger(__name__)

METRICS = ("fd", "p_fd", "mse", "sid", "rpcc")
SID_FITS = ("pred", "gt")
FD_EPS = 1e-6
SID_EPS = 1e-6

Scores = dict[str, dict[str, float]]


#: SID's cluster count per channel group: the release's k 40 for many-channel expression
#: groups, 10 for 3-channel pose-like groups.
SID_CLUSTERS = {"exp": 40, "jaw": 10, "pose": 10, "mouth": 40, "face": 40}


@dataclass(frozen=True)
class Group:
    name: str
    index: tuple[int, ...]  # columns of the rig
    k: int  # SID clusters


#: The rig's channel groups (``dyad.rigs.CHANNEL_GROUPS``) with their SID k.
GROUPS: dict[str, tuple[Group, ...]] = {
    rig: tuple(Group(g.name, g.index, SID_CLUSTERS[g.name]) for g in groups)
    for rig, groups in CHANNEL_GROUPS.items()
}


# ---------------------------------------------------------------- per-clip metrics


def _stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.mean(x, axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance(
    x: np.ndarray, y: np.ndarray, *, eps: float = FD_EPS, field: str = "pred"
) -> float:
    """FD between Gaussians fitted to the frames of ``x`` [T, c] and ``y`` [T', c]."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or min(len(x), len(y)) < 2:
        raise InvalidInput(field, f"FD needs [T ≥ 2, c] arrays of equal c: {x.shape}, {y.shape}")
    (mu1, s1), (mu2, s2) = _stats(x), _stats(y)
    with warnings.catch_warnings():  # the release calls sqrtm with disp=False: no warning
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():
            log.warning("FD: singular covariance product; adding %g to the diagonals", eps)
            offset = np.eye(s1.shape[0]) * eps
            covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            m = float(np.max(np.abs(covmean.imag)))
            raise InvalidInput(field, f"FD: imaginary component {m:.4g} in sqrtm(Σ1·Σ2)")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def p_fd(pred: np.ndarray, gt: np.ndarray, partner_gt: np.ndarray, *, field: str = "pred") -> float:
    """Paired FD: FD([partner_gt ‖ gt], [partner_gt ‖ pred]), concatenated along channels."""
    a, b = np.concatenate([partner_gt, gt], axis=-1), np.concatenate([partner_gt, pred], axis=-1)
    return frechet_distance(a, b, field=field)


def mse(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.mean((np.asarray(pred, np.float64) - np.asarray(gt, np.float64)) ** 2))


def _pcc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.corrcoef(a, b)[0, 1])


def rpcc(pred: np.ndarray, gt: np.ndarray, partner_gt: np.ndarray) -> float:
    """|PCC(gt, partner) − PCC(pred, partner)| on the flattened arrays (NaN if one is constant)."""
    return abs(_pcc(gt, partner_gt) - _pcc(pred, partner_gt))


def _sqdist(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """[n, k] squared distances, as sklearn's ``|x|² − 2x·c + |c|²`` clipped at 0."""
    d = (x * x).sum(1)[:, None] - 2 * x @ c.T + (c * c).sum(1)[None, :]
    return np.asarray(np.maximum(d, 0))


def kmeans(x: np.ndarray, k: int, *, seed: int = 0, max_iter: int = 300) -> np.ndarray:
    """[k, c] centres of ``x`` [n, c] (sklearn-style greedy k-means++ then Lloyd; module doc)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if not 1 <= k <= n:
        raise InvalidInput("k", f"KMeans needs 1 ≤ k ≤ {n} frames, got k={k}")
    rs = np.random.RandomState(seed)
    trials = 2 + int(np.log(k))
    first = int(rs.choice(n, p=np.full(n, 1.0 / n)))
    centres = [x[first]]
    closest = _sqdist(x, x[first : first + 1])[:, 0]
    pot = closest.sum()
    for _ in range(1, k):
        cand = np.searchsorted(np.cumsum(closest), rs.uniform(size=trials) * pot)
        cand = np.clip(cand, None, n - 1)
        d = np.minimum(closest[None, :], _sqdist(x, x[cand]).T)  # [trials, n]
        pots = d.sum(axis=1)
        best = int(np.argmin(pots))
        closest, pot = d[best], pots[best]
        centres.append(x[cand[best]])
    c = np.array(centres)
    tol = 1e-4 * float(np.mean(np.var(x, axis=0)))
    labels_old = np.full(n, -1)
    for _ in range(max_iter):
        d = _sqdist(x, c)
        labels = d.argmin(axis=1)
        sums = np.zeros_like(c)
        np.add.at(sums, labels, x)
        counts = np.bincount(labels, minlength=k).astype(np.float64)
        empty = np.flatnonzero(counts == 0)
        if empty.size:  # re-seed empty clusters with the frames farthest from their centre
            far = np.argsort(-d[np.arange(n), labels], kind="stable")[: empty.size]
            for j, i in zip(empty, far, strict=True):
                sums[labels[i]] -= x[i]
                counts[labels[i]] -= 1
                sums[j], counts[j] = x[i], 1
        new = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], sums)
        shift = float(((new - c) ** 2).sum())
        c = new
        if np.array_equal(labels, labels_old) or shift <= tol:
            break
        labels_old = labels
    return c


def _check_fit(fit: str) -> None:
    if fit not in SID_FITS:
        raise InvalidInput("sid_fit", f"{fit!r} is not one of {list(SID_FITS)}")


def sid(pred: np.ndarray, gt: np.ndarray, k: int, *, fit: str = "pred", seed: int = 0) -> float:
    """Shannon-index diversity: KMeans(k) fit on ``fit``'s frames, the other's assigned;
    ``−Σ p log2(p + 1e-6)`` over cluster shares. ``fit="pred"`` is the release's order."""
    _check_fit(fit)
    fit_on, assigned = (pred, gt) if fit == "pred" else (gt, pred)
    centres = kmeans(fit_on, k, seed=seed)
    labels = _sqdist(np.asarray(assigned, np.float64), centres).argmin(axis=1)
    p = np.bincount(labels, minlength=k) / len(labels)
    return float(-np.sum(p * np.log2(p + SID_EPS)))


# ---------------------------------------------------------------- clips and directories


def _rig(rig: str | Rig) -> Rig:
    return rig if isinstance(rig, Rig) else get_rig(rig)


def _clip_scores(
    arrays: Sequence[np.ndarray], names: Sequence[str], rig: Rig, sid_fit: str
) -> Scores:
    checked = []
    for a, name in zip(arrays, names, strict=True):
        rig.validate(a, field_name=name, check_range=False)  # rank, channels, NaN/Inf
        checked.append(np.asarray(a, dtype=np.float64))
    t = min(len(a) for a in checked)
    groups = GROUPS[rig.name]
    need = max(g.k for g in groups)
    if t < need:
        short = names[int(np.argmin([len(a) for a in checked]))]
        raise InvalidInput(short, f"{t} frames; the metrics need at least {need} (SID's k)")
    pred, gt, partner = (a[:t] for a in checked)  # the release's common minimum length
    out: Scores = {}
    for g in groups:
        p, y, o = pred[:, g.index], gt[:, g.index], partner[:, g.index]
        out[g.name] = {
            "fd": frechet_distance(p, y, field=names[0]),
            "p_fd": p_fd(p, y, o, field=names[0]),
            "mse": mse(p, y),
            "sid": sid(p, y, g.k, fit=sid_fit),
            "rpcc": rpcc(p, y, o),
        }
    return out


def evaluate_clips(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    partners: Sequence[np.ndarray],
    rig: str | Rig,
    *,
    sid_fit: str = "pred",
    names: Sequence[str] | None = None,
) -> Scores:
    """``{group: {metric: mean over clips}}``; clip i's errors name ``pred[i]``, ``gt[i]``,
    ``partner[i]`` (or ``pred[<name>]`` … with ``names``)."""
    r = _rig(rig)
    _check_fit(sid_fit)
    if not preds:
        raise InvalidInput("pred", "no clips to evaluate")
    for field, seq in (("gt", gts), ("partner", partners)):
        if len(seq) != len(preds):
            raise InvalidInput(field, f"{len(seq)} clips for {len(preds)} predictions")
    labels = [str(i) for i in range(len(preds))] if names is None else list(names)
    per_clip = [
        _clip_scores((p, g, o), [f"pred[{n}]", f"gt[{n}]", f"partner[{n}]"], r, sid_fit)
        for p, g, o, n in zip(preds, gts, partners, labels, strict=True)
    ]
    return {
        g.name: {m: float(np.mean([c[g.name][m] for c in per_clip])) for m in METRICS}
        for g in GROUPS[r.name]
    }


def evaluate_single(
    pred: np.ndarray, gt: np.ndarray, partner: np.ndarray, rig: str | Rig, *, sid_fit: str = "pred"
) -> Scores:
    """One clip; errors name ``pred``, ``gt`` or ``partner``."""
    r = _rig(rig)
    _check_fit(sid_fit)
    return _clip_scores((pred, gt, partner), ("pred", "gt", "partner"), r, sid_fit)


def read_motion_file(path: str | Path, rig: str | Rig, field: str) -> np.ndarray:
    """``[T, C]`` from a ``.npy`` array or an ``.npz`` (DualTalk ``exp``/``pose`` → exp | jaw =
    pose[3:6] | neck = pose[0:3]; ``arkit``; or dyad's ``motion`` + ``rig``)."""
    r, path = _rig(rig), Path(path)
    try:
        obj = np.load(path, allow_pickle=False)
        if isinstance(obj, np.ndarray):
            return obj
        with obj as z:
            keys = set(z.files)
            if r.name == "flame56" and {"exp", "pose"} <= keys:
                exp, pose = z["exp"], z["pose"]
                if exp.ndim != 2 or exp.shape[1] < 50 or pose.shape != (exp.shape[0], 6):
                    raise InvalidInput(field, f"exp {exp.shape} / pose {pose.shape} in {path}")
                return np.concatenate([exp[:, :50], pose[:, 3:6], pose[:, 0:3]], axis=1)
            if r.name == "arkit55" and "arkit" in keys:
                return np.asarray(z["arkit"])
            if {"motion", "rig"} <= keys and str(z["rig"]) == r.name:
                return np.asarray(z["motion"])
            raise InvalidInput(field, f"no {r.name} motion in {path} (keys {sorted(keys)})")
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise InvalidInput(field, f"{path} is not a readable .npy/.npz file: {e}") from None


def evaluate_dirs(
    pred_dir: str | Path,
    gt_dir: str | Path,
    rig: str | Rig,
    split: str | None = None,
    *,
    sid_fit: str = "pred",
) -> Scores:
    """Predictions ``<clip>_speaker{1,2}.{npy,npz}`` in ``pred_dir`` against DualTalk-layout GT in
    ``gt_dir`` (or ``gt_dir/split``): a speaker-1 prediction is scored against GT speaker 1 with
    speaker 2's GT as partner, and vice versa (the release's pairing)."""
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    gt_folder = gt_dir / split if split else gt_dir
    for what, folder in (("pred_dir", pred_dir), ("gt_dir", gt_folder)):
        if not folder.is_dir():
            raise NotFound(f"{what}: {folder} is not a directory")
    found: dict[str, Path] = {}
    for f in sorted(pred_dir.iterdir()):
        if f.suffix in (".npy", ".npz") and f.stem.endswith(("_speaker1", "_speaker2")):
            if f.stem in found:
                raise InvalidInput(f"pred[{f.stem}]", "both a .npy and an .npz prediction")
            found[f.stem] = f
    if not found:
        raise NotFound(f"pred_dir: no <clip>_speaker{{1,2}}.npy/.npz files in {pred_dir}")
    preds, gts, partners = [], [], []
    for stem, f in found.items():
        clip, spk = stem[: -len("_speaker1")], stem[-1]
        gt_file = gt_folder / f"{stem}.npz"
        partner_file = gt_folder / f"{clip}_speaker{'2' if spk == '1' else '1'}.npz"
        for p in (gt_file, partner_file):
            if not p.is_file():
                raise NotFound(f"gt[{stem}]: {p} is missing")
        preds.append(read_motion_file(f, rig, f"pred[{stem}]"))
        gts.append(read_motion_file(gt_file, rig, f"gt[{stem}]"))
        partners.append(read_motion_file(partner_file, rig, f"partner[{stem}]"))
    return evaluate_clips(preds, gts, partners, rig, sid_fit=sid_fit, names=list(found))
