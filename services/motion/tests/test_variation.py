"""The variation latent (parts.MotionVariation): config, posterior, prior, seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dyad.errors import InvalidInput
from dyad.rigs import get_rig
from dyad.services.motion.neural.generate import generate_pair
from dyad.services.motion.neural.model import DualTalkModel

from .model_helpers import (
    conversation,
    inputs,
    make,
    one_thread,  # noqa: F401 (the fixture)
    small,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _latent_model(seed: int = 0) -> DualTalkModel:
    cfg = small(rig="arkit55", social=True, latent_dim=4, latent_group="face", latent_stride=2)
    return make(cfg, seed)


def test_latent_config_validation() -> None:
    assert small(rig="arkit55", latent_group="face").latent_channels == [
        i
        for i, n in enumerate(get_rig("arkit55").channels)
        if n.startswith(("eye", "brow", "cheekSquint", "noseSneer"))
    ]
    assert small(rig="flame56").latent_channels == list(range(56))  # "": every channel
    for kw, field in (
        ({"latent_dim": -1}, "latent_dim"),
        ({"latent_stride": 0}, "latent_stride"),
        ({"latent_group": "face"}, "latent_group"),
    ):  # flame56 has no "face"
        with pytest.raises(InvalidInput, match=f"config.{field}"):
            small(rig="flame56", **kw)


def test_latent_drives_the_output_and_is_checked() -> None:
    model = _latent_model()
    cfg = model.config
    a, b, m = inputs(cfg, b=2, t=30)
    rel = torch.tensor([[1.0, 0.0]] * 2)
    z = torch.randn(2, 30, 4)
    with torch.no_grad():
        mode = model(a, b, m, rel)
        assert torch.equal(mode, model(a, b, m, rel, torch.zeros(2, 30, 4)))  # None = zeros
        assert not torch.allclose(model(a, b, m, rel, z), mode, atol=1e-4)
    with pytest.raises(InvalidInput, match=r"latent: expected \[2, 30, 4\]"):
        model(a, b, m, rel, torch.zeros(2, 29, 4))
    with pytest.raises(InvalidInput, match="latent"):
        make(small(rig="arkit55"))(a, b, m, None, z)  # a model without one


def test_latent_posterior_shapes_and_kl() -> None:
    var = _latent_model().variation
    assert var is not None
    target = torch.randn(3, 31, 23)
    mu, logvar = var.encode(target)
    assert mu.shape == logvar.shape == (3, 16, 4)  # ceil(31 / 2) steps
    z, kl = var.sample_posterior(target)
    assert z.shape == (3, 31, 4) and kl.shape == (4,)
    # steps sit at frames 0.5, 2.5, …: frames 1 and 2 interpolate between steps 0 and 1
    zs = mu + 0 * logvar  # (a posterior sample is random; check the interpolation on mu)
    up = var.upsample(zs, 31)
    torch.testing.assert_close(up[:, 1], 0.75 * zs[:, 0] + 0.25 * zs[:, 1])
    torch.testing.assert_close(up[:, 2], 0.25 * zs[:, 0] + 0.75 * zs[:, 1])
    torch.testing.assert_close(up[:, 0], zs[:, 0])  # held before the first centre
    want = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).mean((0, 1))
    assert torch.allclose(kl, want) and bool((kl >= 0).all())
    prior = var.prior(31, np.random.default_rng(0))
    assert prior.shape == (31, 4) and np.isfinite(prior).all()
    raw = np.random.default_rng(0).standard_normal((16, 4))  # the draws behind it
    # no staircase: a frame moves at most half the way between two steps
    assert np.abs(np.diff(prior, axis=0)).max() <= 0.5 * np.abs(np.diff(raw, axis=0)).max() + 1e-5
    np.testing.assert_allclose(prior[0], raw[0], atol=1e-6)


def test_latent_generate_pair_is_seeded_and_seamless() -> None:
    model = _latent_model(seed=5)
    fa, fb, pa, pb = conversation(model.config, 230, seed=3)
    rel = (True, False)

    def run(seed: int, window: int = 100, overlap: int = 30) -> tuple[np.ndarray, np.ndarray]:
        return generate_pair(model, fa, fb, pa, pb, rel, window=window, overlap=overlap, seed=seed)

    a0, b0 = run(0)
    assert all(np.array_equal(x, y) for x, y in zip(run(0), (a0, b0), strict=True))
    a1, _ = run(1)
    face = model.config.latent_channels
    assert np.abs(a1 - a0)[:, face].mean() > 1e-3  # another seed, another motion
    assert not np.allclose(a0, b0)  # each speaker has its own draw
    # One latent sequence per speaker for the whole clip, sliced by the windows (so overlaps
    # agree): what each window's rows receive is that sequence's slice.
    seen: list[torch.Tensor] = []
    hook = model.register_forward_pre_hook(lambda _m, args: seen.append(args[4].clone()))
    try:
        run(3)
    finally:
        hook.remove()
    assert model.variation is not None
    rng = np.random.default_rng(3)
    za, zb = (model.variation.prior(230, rng) for _ in range(2))
    rows = torch.cat(seen).numpy()  # [windows × 2, w, L]: A's row, then B's, per window
    for k, start in enumerate((0, 70, 130)):
        np.testing.assert_array_equal(rows[2 * k], za[start : start + 100])
        np.testing.assert_array_equal(rows[2 * k + 1], zb[start : start + 100])
    with pytest.raises(InvalidInput, match="seed"):
        run(-1)
