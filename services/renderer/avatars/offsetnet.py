"""RSATalker's Gaussian offsetnet (eq. 8): ``c = GON(q, t)``, per-anchor position corrections.

The social query ``q`` fuses two sets of two orthogonal learnable embeddings, one set per
axis of the relationship taxonomy (blood / non-blood, equal / unequal; DESIGN §2). A two-layer
MLP maps ``[q ‖ sinusoidal(t)]`` to one 3-D offset per anchor Gaussian; a neural Gaussian
(densified from an anchor) shares its anchor's offset (RSATalker §3.4). The output layer starts
at zero, so an untrained net leaves the avatar exactly as bound. Training it is part of
avatar fitting on real footage, which the bundled procedural avatars do not have.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from dyad.errors import InvalidInput


@dataclass(frozen=True)
class OffsetNetConfig:
    num_anchors: int
    query_dim: int = 16
    hidden: int = 32
    time_freqs: int = 4  # sin/cos of t at 2^k · π rad/s, k < time_freqs

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class GaussianOffsetNet(nn.Module):
    """``forward(blood, equal, t [T]) → c [T, num_anchors, 3]`` in metres."""

    def __init__(self, config: OffsetNetConfig) -> None:
        super().__init__()
        self.config = config
        d = config.query_dim
        # Orthogonal pairs: the binary states are disentangled (RSATalker §3.5).
        basis = torch.linalg.qr(torch.randn(d, 4, generator=torch.Generator().manual_seed(0)))[0]
        self.blood_emb = nn.Parameter(basis[:, :2].T.contiguous())  # [2, d]: non_blood, blood
        self.equal_emb = nn.Parameter(basis[:, 2:].T.contiguous())  # [2, d]: unequal, equal
        self.fc1 = nn.Linear(d + 2 * config.time_freqs, config.hidden)
        self.fc2 = nn.Linear(config.hidden, 3 * config.num_anchors)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def query(self, blood: bool, equal: bool) -> torch.Tensor:
        """The structured social query ``q`` ``[query_dim]``."""
        return self.blood_emb[int(blood)] + self.equal_emb[int(equal)]

    def forward(self, blood: bool, equal: bool, t: torch.Tensor) -> torch.Tensor:
        if t.dim() != 1:
            raise InvalidInput("t", f"expected [T] seconds, got {list(t.shape)}")
        freqs = math.pi * 2.0 ** torch.arange(self.config.time_freqs, dtype=t.dtype)
        phase = t[:, None] * freqs  # [T, F]
        q = self.query(blood, equal).expand(t.shape[0], -1)  # [T, d]
        h = torch.relu(self.fc1(torch.cat([q, phase.sin(), phase.cos()], dim=-1)))
        return self.fc2(h).reshape(t.shape[0], self.config.num_anchors, 3)


def offset_loss(c: torch.Tensor, eps: float) -> torch.Tensor:
    """RSATalker eq. 12, ``‖max(c, ε)‖₂``, read as a hinge on each offset's length.

    Printed literally, ``max(c, ε)`` would penalise every component by at least ε; the paper
    pairs it with the position term of GaussianAvatars (``mean(relu(‖μ‖ − 1))``), so we read
    it the same way: offsets shorter than ``eps`` (metres here) cost nothing.
    c: ``[..., N, 3]``.
    """
    return torch.relu(c.norm(dim=-1) - eps).mean()
