"""Vertices carried by bust vertices: hair, clothing, accessories and the neckline's cut.

Every vertex the bust did not come with moves with the bust vertices under it: a hair or
shell vertex with the one skin vertex it was grown from, a vertex where a triangle was cut
with the two ends of the edge it lies on, in proportion. ``Carriers`` holds, per extra
vertex, up to K bust vertices and weights summing to 1; an extra vertex's displacement in
any pose is the weighted sum of its carriers' displacements (face units and head turn alike),
so a cut point stays on its edge as the bust deforms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Carriers:
    """``index [H, K]`` bust vertex indices and ``weight [H, K]`` float32 (rows sum to 1;
    unused slots repeat the first index at weight 0)."""

    index: np.ndarray  # [H, K] int64
    weight: np.ndarray  # [H, K] float32

    @staticmethod
    def single(skin: np.ndarray) -> Carriers:
        """Each extra vertex carried by one bust vertex ``skin [H]``."""
        idx = np.asarray(skin, np.int64).reshape(-1, 1)
        return Carriers(idx, np.ones(idx.shape, np.float32))

    @staticmethod
    def on_edges(ends: np.ndarray, t: np.ndarray) -> Carriers:
        """Points at ``(1 − t)·a + t·b`` on edges ``ends [H, 2]`` (a, b) of bust vertices."""
        tt = np.asarray(t, np.float32).reshape(-1, 1)
        return Carriers(np.asarray(ends, np.int64).reshape(-1, 2), np.hstack([1.0 - tt, tt]))

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def padded(self, k: int) -> Carriers:
        """The same carriers in ``k ≥ K`` slots."""
        pad = k - self.index.shape[1]
        if pad <= 0:
            return self
        return Carriers(
            np.hstack([self.index, np.repeat(self.index[:, :1], pad, axis=1)]),
            np.hstack([self.weight, np.zeros((len(self), pad), np.float32)]),
        )

    def concat(self, other: Carriers) -> Carriers:
        k = max(self.index.shape[1], other.index.shape[1])
        a, b = self.padded(k), other.padded(k)
        return Carriers(np.vstack([a.index, b.index]), np.vstack([a.weight, b.weight]))

    def carry(self, values: np.ndarray) -> np.ndarray:
        """``values [..., V_bust, C]`` → ``[..., H, C]``: Σ_k weight · values[index]."""
        out = self.weight[:, 0, None] * values[..., self.index[:, 0], :]
        for k in range(1, self.index.shape[1]):
            out = out + self.weight[:, k, None] * values[..., self.index[:, k], :]
        return out.astype(values.dtype, copy=False)

    def with_midpoints(self, new_from: np.ndarray, num_bust: int) -> Carriers:
        """These carriers followed by those of midpoints ``new_from [N, 2]`` (edge ends as
        vertex indices: a bust vertex below ``num_bust``, an extra vertex carried as here, or
        an earlier midpoint; the first midpoint is extra vertex ``len(self)``): each the mean
        of its ends' carriers, merged per bust vertex."""
        rows: list[dict[int, float]] = []
        first_new = num_bust + len(self)

        def row(v: int) -> dict[int, float]:
            if v < num_bust:
                return {v: 1.0}
            if v < first_new:
                h = v - num_bust
                pairs = zip(self.index[h].tolist(), self.weight[h].tolist(), strict=True)
                return {i: w for i, w in pairs if w > 0.0}
            return rows[v - first_new]

        for a, b in np.asarray(new_from, np.int64).tolist():
            merged: dict[int, float] = {}
            for v in (a, b):
                for i, w in row(v).items():
                    merged[i] = merged.get(i, 0.0) + 0.5 * w
            rows.append(merged)
        k = max([len(r) for r in rows] + [1])
        index = np.zeros((len(rows), k), np.int64)
        weight = np.zeros((len(rows), k), np.float32)
        for h, r in enumerate(rows):
            items = sorted(r.items())
            index[h] = items[0][0]
            index[h, : len(items)] = [i for i, _ in items]
            weight[h, : len(items)] = [w for _, w in items]
        return self.concat(Carriers(index, weight))
