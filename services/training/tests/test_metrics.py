"""DualTalk's motion metrics (``metrics.py``): hand-computable cases, groups, the directory form,
the CLI and bad inputs."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from dyad.cli import main
from dyad.errors import InvalidInput, NotFound
from dyad.rigs import ARKIT_BLENDSHAPES, get_rig
from dyad.services.training import metrics as M

RNG = np.random.default_rng(7)


def _clip(t: int, c: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.5, (t, c))


# ---------------------------------------------------------------- FD and P-FD


def test_fd_identical_is_zero() -> None:
    x = _clip(80, 50, 1)
    assert M.frechet_distance(x, x) == pytest.approx(0, abs=1e-9)
    assert M.p_fd(x, x, _clip(80, 50, 2)) == pytest.approx(0, abs=1e-6)  # 100-dim sqrtm


def test_fd_shifted_mean_is_squared_shift() -> None:
    x = _clip(60, 5, 3)
    delta = np.array([0.5, -1.0, 2.0, 0.0, 0.25])
    assert M.frechet_distance(x + delta, x) == pytest.approx(float(delta @ delta), abs=1e-8)


def test_fd_diagonal_covariances_closed_form() -> None:
    # Orthogonal zero-mean columns: np.cov (ddof 1) is exactly diag(σ² · 4/3).
    a, b = np.array([1.0, -1, 1, -1]), np.array([1.0, 1, -1, -1])
    mu1, mu2 = np.array([0.5, -2.0]), np.array([1.5, 1.0])
    sd1, sd2 = np.array([1.0, 3.0]), np.array([2.0, 0.5])
    x = np.stack([sd1[0] * a, sd1[1] * b], 1) + mu1
    y = np.stack([sd2[0] * a, sd2[1] * b], 1) + mu2
    s = math.sqrt(4 / 3)
    expected = float(((mu1 - mu2) ** 2).sum() + ((s * sd1 - s * sd2) ** 2).sum())
    assert M.frechet_distance(x, y) == pytest.approx(expected, rel=1e-10)


def test_fd_singular_covariance_is_finite() -> None:
    x, y = _clip(50, 4, 4), _clip(50, 4, 5)
    x[:, 2] = 0.3  # a constant channel: singular covariance
    assert np.isfinite(M.frechet_distance(x, y))
    assert np.isfinite(M.frechet_distance(x, x + 1.0))


def test_fd_epsilon_fallback(caplog: pytest.LogCaptureFixture) -> None:
    # Rank-1 covariances u·uᵀ and v·vᵀ (frames s·u, s·v with var(s) = 1): scipy's sqrtm of the
    # product has non-finite entries, so the release's ε = 1e-6 diagonal is added. The exact
    # value (2-Wasserstein²) is |Δμ|² + |u|² + |v|² − 2|u·v| = 12 + 9 + 7 − 4 = 24.
    u, v, s = np.array([2.0, 0, -2, -1]), np.array([1.0, 1, -1, 2]), np.array([0.0, 1, 2])
    with caplog.at_level(logging.WARNING, logger=M.__name__):
        fd = M.frechet_distance(s[:, None] * u, s[:, None] * v)
    assert "adding" in caplog.text  # the fallback ran
    assert fd == pytest.approx(24.0, abs=1e-3)


def test_fd_complex_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = _clip(30, 3, 6), _clip(30, 3, 7)
    real = M.frechet_distance(x, y)
    sqrtm = M.linalg.sqrtm
    monkeypatch.setattr(M.linalg, "sqrtm", lambda a: sqrtm(a) + 5e-4j)  # small: real part kept
    assert M.frechet_distance(x, y) == pytest.approx(real, rel=1e-12)
    monkeypatch.setattr(M.linalg, "sqrtm", lambda a: sqrtm(a) + 0.1j)  # large: refused
    with pytest.raises(InvalidInput) as e:
        M.frechet_distance(x, y, field="pred[3]")
    assert e.value.field == "pred[3]" and "imaginary" in e.value.reason


def test_p_fd_concatenates_partner_first() -> None:
    pred, gt, partner = _clip(40, 3, 8), _clip(40, 3, 9), _clip(40, 3, 10)
    expected = M.frechet_distance(np.hstack([partner, gt]), np.hstack([partner, pred]))
    assert M.p_fd(pred, gt, partner) == pytest.approx(expected, rel=1e-12)
    # a mean shift of the prediction alone shows up whole in P-FD
    assert M.p_fd(gt + 0.5, gt, partner) == pytest.approx(3 * 0.25, abs=1e-8)


# ---------------------------------------------------------------- MSE, rPCC


def test_mse_known() -> None:
    assert M.mse(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [0.0, 4.0]])) == 13 / 4


def test_rpcc_on_flattened_arrays() -> None:
    partner = np.array([[1.0, 2.0], [3.0, 4.0]])  # flattened: 1 2 3 4
    gt = partner.copy()  # r = 1
    pred = np.array([[1.0, 3.0], [2.0, 4.0]])  # flattened 1 3 2 4: r = 4 / 5 = 0.8
    assert M.rpcc(pred, gt, partner) == pytest.approx(0.2, abs=1e-12)
    # One correlation over all elements, not a mean of per-channel ones: channel 0 reversed
    # (r −1), channel 1 equal (r 1) would give 1 − 0 = 1 per channel; flattened, deviations
    # from the mean 6 give r = 150 / 154, so rPCC = 1 − 75/77 = 2/77.
    partner2 = np.array([[0.0, 10], [1, 11], [2, 12]])
    pred2 = np.array([[2.0, 10], [1, 11], [0, 12]])
    assert M.rpcc(pred2, partner2, partner2) == pytest.approx(2 / 77, abs=1e-12)
    assert M.rpcc(-partner, gt, partner) == pytest.approx(2.0, abs=1e-12)  # r = −1
    assert M.rpcc(gt, gt, partner) == 0.0  # identical prediction: exactly 0
    assert math.isnan(M.rpcc(np.ones((2, 2)), gt, partner))  # constant: NaN as np.corrcoef


# ---------------------------------------------------------------- SID


def _blobs(centres: np.ndarray, counts: list[int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.concatenate([np.repeat(c[None], n, 0) for c, n in zip(centres, counts, strict=True)])
    return x + rng.normal(0, 0.01, x.shape)


def test_sid_k_separated_blobs() -> None:
    for k, dim in ((10, 3), (40, 50)):
        centres = np.random.default_rng(k).normal(0, 1, (k, dim)) * 100
        pred, gt = _blobs(centres, [5] * k, 1), _blobs(centres, [4] * k, 2)
        assert M.sid(pred, gt, k) == pytest.approx(-math.log2(1 / k + 1e-6), abs=1e-12)
        assert M.sid(pred, gt, k, fit="gt") == pytest.approx(-math.log2(1 / k + 1e-6), abs=1e-12)
    # unequal shares 1/2, 1/4, 1/4 of the assigned (GT) frames
    centres = np.array([[0.0, 0, 0], [50, 0, 0], [0, 50, 0]])
    sid = M.sid(_blobs(centres, [10, 10, 10], 3), _blobs(centres, [20, 10, 10], 4), 3)
    expected = -sum(p * math.log2(p + 1e-6) for p in (0.5, 0.25, 0.25))
    assert sid == pytest.approx(expected, abs=1e-12)


def test_sid_fit_order() -> None:
    # pred: half at 0, half at 10; gt: half at 0, half at 1 (1-D, k = 2).
    pred = np.array([0.0] * 10 + [10.0] * 10)[:, None]
    gt = np.array([0.0] * 10 + [1.0] * 10)[:, None]
    # release order: centres from pred (0, 10); every GT frame is nearest 0
    assert M.sid(pred, gt, 2) == pytest.approx(-math.log2(1 + 1e-6), abs=1e-12)
    # fit on GT: centres 0 and 1; pred splits evenly
    assert M.sid(pred, gt, 2, fit="gt") == pytest.approx(-math.log2(0.5 + 1e-6), abs=1e-12)


def test_kmeans_deterministic_and_constant_data() -> None:
    x = _clip(100, 3, 11)
    assert np.array_equal(M.kmeans(x, 10), M.kmeans(x, 10))
    centres = M.kmeans(np.full((20, 3), 0.5), 10)  # all clusters but one start empty
    assert np.allclose(centres, 0.5)
    assert M.sid(np.full((20, 3), 0.5), np.full((20, 3), 0.5), 10) == pytest.approx(
        -math.log2(1 + 1e-6)
    )


# ---------------------------------------------------------------- groups, clips


def test_groups() -> None:
    flame = {g.name: g.index for g in M.GROUPS["flame56"]}
    assert flame == {
        "exp": tuple(range(50)),
        "jaw": (50, 51, 52),
        "pose": (53, 54, 55),
    }
    ark = {g.name: g for g in M.GROUPS["arkit55"]}
    names = {k: {ARKIT_BLENDSHAPES[i] for i in g.index if i < 52} for k, g in ark.items()}
    assert {"jawOpen", "jawForward", "mouthClose", "cheekPuff", "tongueOut"} <= names["mouth"]
    assert {"eyeBlinkLeft", "browInnerUp", "cheekSquintLeft", "noseSneerRight"} <= names["face"]
    assert len(names["mouth"]) == 29 and len(names["face"]) == 23
    assert set(ark["mouth"].index) | set(ark["face"].index) == set(range(52))
    assert ark["pose"].index == (52, 53, 54)
    assert [g.k for g in M.GROUPS["flame56"]] == [40, 10, 10]
    assert [g.k for g in ark.values()] == [40, 40, 10]


@pytest.mark.parametrize(
    ("rig", "group", "cols"),
    [("flame56", "jaw", slice(50, 53)), ("arkit55", "pose", slice(52, 55))],
)
def test_groups_sliced_in_scores(rig: str, group: str, cols: slice) -> None:
    c = get_rig(rig).num_channels
    gt, partner = _clip(60, c, 12), _clip(60, c, 13)
    pred = gt.copy()
    pred[:, cols] += 0.5
    scores = M.evaluate_single(pred, gt, partner, rig)
    for name, s in scores.items():
        if name == group:
            assert s["mse"] == pytest.approx(0.25) and s["fd"] == pytest.approx(0.75)
        else:
            assert s["mse"] == 0 and s["fd"] == pytest.approx(0, abs=1e-9) and s["rpcc"] == 0


def test_identical_clip_scores() -> None:
    gt, partner = _clip(60, 56, 14), _clip(60, 56, 15)
    for s in M.evaluate_single(gt, gt, partner, "flame56").values():
        assert s["fd"] == pytest.approx(0, abs=1e-9) and s["p_fd"] == pytest.approx(0, abs=1e-6)
        assert s["mse"] == 0 and s["rpcc"] == 0 and s["sid"] > 0


def test_truncates_to_common_length() -> None:
    pred, gt, partner = _clip(70, 56, 16), _clip(64, 56, 17), _clip(66, 56, 18)
    full = M.evaluate_single(pred, gt, partner, "flame56")
    assert full == M.evaluate_single(pred[:64], gt, partner[:64], "flame56")


def test_evaluate_clips_averages() -> None:
    clips = [
        (_clip(t, 55, s), _clip(t, 55, s + 1), _clip(t, 55, s + 2)) for t, s in ((50, 20), (61, 30))
    ]
    singles = [M.evaluate_single(p, g, o, "arkit55") for p, g, o in clips]
    mean = M.evaluate_clips(*map(list, zip(*clips, strict=True)), "arkit55")
    for group, s in mean.items():
        for m, v in s.items():
            assert v == pytest.approx((singles[0][group][m] + singles[1][group][m]) / 2)


# ---------------------------------------------------------------- directories and CLI


def _write_flame(path: Path, motion: np.ndarray) -> None:
    pose = np.concatenate([motion[:, 53:56], motion[:, 50:53]], 1)  # DECA: global | jaw
    np.savez(
        path,
        exp=motion[:, :50].astype(np.float32),
        pose=pose.astype(np.float32),
        shape=np.zeros((len(motion), 100), np.float32),
    )


@pytest.fixture()
def flame_tree(
    tmp_path: Path,
) -> tuple[Path, Path, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    gt_root, pred_dir = tmp_path / "data", tmp_path / "pred"
    (gt_root / "test").mkdir(parents=True)
    pred_dir.mkdir()
    cases: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for i, clip in enumerate(("clipA", "clipB")):
        a, b = _clip(55 + i, 56, 40 + i), _clip(55 + i, 56, 50 + i)
        _write_flame(gt_root / "test" / f"{clip}_speaker1.npz", a)
        _write_flame(gt_root / "test" / f"{clip}_speaker2.npz", b)
        if i == 0:  # a speaker-1 .npy prediction, 3 frames too long
            pred = _clip(58, 56, 60)
            np.save(pred_dir / f"{clip}_speaker1.npy", pred.astype(np.float32))
            cases.append((pred, a, b))
        else:  # a speaker-2 .npz prediction (DualTalk keys)
            pred = _clip(55 + i, 56, 61)
            _write_flame(pred_dir / f"{clip}_speaker2.npz", pred)
            cases.append((pred, b, a))
    (pred_dir / "notes.txt").write_text("ignored")
    return pred_dir, gt_root, cases


def _f32(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32)


def _flat(scores: dict) -> dict[str, float]:
    return {f"{g}.{m}": v for g, s in scores.items() for m, v in s.items()}


def test_dirs_equal_single_clips_averaged(flame_tree: tuple) -> None:
    pred_dir, gt_root, cases = flame_tree
    got = M.evaluate_dirs(pred_dir, gt_root, "flame56", split="test")
    want = M.evaluate_clips(*[[_f32(c[j]) for c in cases] for j in range(3)], "flame56")
    assert got == want
    assert got == M.evaluate_dirs(pred_dir, gt_root / "test", "flame56")


def test_dirs_arkit(tmp_path: Path) -> None:
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    a, b, p = (_clip(50, 55, s).clip(0, 1).astype(np.float32) for s in (1, 2, 3))
    np.savez(tmp_path / "gt" / "c_speaker1.npz", arkit=a)
    np.savez(tmp_path / "gt" / "c_speaker2.npz", arkit=b)
    np.savez(tmp_path / "pred" / "c_speaker1.npz", arkit=p)
    got = M.evaluate_dirs(tmp_path / "pred", tmp_path / "gt", "arkit55")
    assert got == M.evaluate_single(p, a, b, "arkit55")
    assert set(got) == {"mouth", "face", "pose"}


def test_dirs_errors(flame_tree: tuple, tmp_path: Path) -> None:
    pred_dir, gt_root, _ = flame_tree
    with pytest.raises(NotFound):
        M.evaluate_dirs(pred_dir, gt_root, "flame56", split="ood")
    with pytest.raises(NotFound):  # GT npz files are under test/
        M.evaluate_dirs(pred_dir, gt_root, "flame56")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NotFound):
        M.evaluate_dirs(empty, gt_root, "flame56", split="test")
    np.save(pred_dir / "clipB_speaker2.npy", np.zeros((56, 56), np.float32))
    with pytest.raises(InvalidInput) as e:
        M.evaluate_dirs(pred_dir, gt_root, "flame56", split="test")
    assert e.value.field == "pred[clipB_speaker2]"
    (pred_dir / "clipB_speaker2.npy").unlink()
    np.save(pred_dir / "clipA_speaker1.npy", np.zeros((58, 55), np.float32))
    with pytest.raises(InvalidInput) as e:
        M.evaluate_dirs(pred_dir, gt_root, "flame56", split="test")
    assert e.value.field == "pred[clipA_speaker1]"


def test_cli(flame_tree: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pred_dir, gt_root, cases = flame_tree
    argv = ["metrics", "motion", "--pred", str(pred_dir), "--gt", str(gt_root), "--split", "test"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    want = M.evaluate_dirs(pred_dir, gt_root, "flame56", split="test")
    assert _flat(out) == pytest.approx(_flat(want), rel=1e-12)
    files = []
    for name, arr in zip(("p", "g", "o"), cases[0], strict=True):
        np.save(tmp_path / f"{name}.npy", _f32(arr))
        files.append(str(tmp_path / f"{name}.npy"))
    argv = ["metrics", "motion", "--pred", files[0], "--gt", files[1], "--partner", files[2]]
    assert main([*argv, "--sid-fit", "gt"]) == 0
    out = json.loads(capsys.readouterr().out)
    single = M.evaluate_single(*map(_f32, cases[0]), "flame56", sid_fit="gt")
    assert _flat(out) == pytest.approx(_flat(single), rel=1e-12)
    assert main(argv[:-2]) == 2  # no --partner
    err = capsys.readouterr().err
    assert err.startswith("dyad: --partner:") and err.count("\n") == 1
    assert main([*argv[:-1], str(tmp_path / "missing.npy")]) == 2
    np.save(tmp_path / "const.npy", np.zeros((60, 56), np.float32))
    assert main([*argv[:-1], str(tmp_path / "const.npy")]) == 0  # rPCC NaN → null
    assert json.loads(capsys.readouterr().out)["exp"]["rpcc"] is None


# ---------------------------------------------------------------- bad inputs


def test_bad_inputs_name_the_field() -> None:
    good = _clip(60, 56, 70)
    nan = good.copy()
    nan[3, 7] = np.nan
    for args, field in (
        ((good[:, :55], good, good), "pred"),
        ((good, good[:, :55], good), "gt"),
        ((good, good, nan), "partner"),
        ((good[0], good, good), "pred"),
        ((good, good[:30], good), "gt"),  # fewer frames than SID's k = 40
    ):
        with pytest.raises(InvalidInput) as e:
            M.evaluate_single(*args, "flame56")
        assert e.value.field == field
    with pytest.raises(InvalidInput) as e:
        M.evaluate_single(good, good, good, "flame56", sid_fit="both")
    assert e.value.field == "sid_fit"
    with pytest.raises(InvalidInput) as e:
        M.evaluate_single(good, good, good, "blendshapes")
    assert e.value.field == "rig"
    with pytest.raises(InvalidInput) as e:
        M.evaluate_clips([good, good], [good, nan], [good, good], "flame56")
    assert e.value.field == "gt[1]"
    with pytest.raises(InvalidInput) as e:
        M.evaluate_clips([good], [good, good], [good], "flame56")
    assert e.value.field == "gt"
    with pytest.raises(InvalidInput):
        M.frechet_distance(good[:, :3], good[:, :4])
