"""The binding of ``binding.py`` for one frame, compiled (numba): the video path.

Same formulas (GaussianAvatars' triangle frame, RSATalker eq. 6–7), one pass per Gaussian with
no intermediate arrays: ~1 ms for 11k Gaussians where the torch version takes ~10 ms. The torch
version stays the reference (and the differentiable path); ``tests/test_binding.py`` holds
the two to each other.

``shade_cull`` then lights the bound Gaussians and drops those facing away from the camera in
one more pass, gathering the kept rows as it goes (issue 17 §5: ~0.3 ms where the numpy
``GaussianAvatar.shade``, mask and gathers took ~2.3 ms for the human head); the numpy code
stays the reference (``scenes(compiled=False)``, ``tests/test_frame_fast.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dyad.services.renderer.raster.cpu_kernels import _jit


@_jit(nogil=True)
def _bind(v, faces, binding, xyz, log_scale, rot, means, quats, scales, normals):
    for g in range(binding.shape[0]):
        f = binding[g]
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        e0x, e0y, e0z = v[i1, 0] - v[i0, 0], v[i1, 1] - v[i0, 1], v[i1, 2] - v[i0, 2]
        e1x, e1y, e1z = v[i2, 0] - v[i0, 0], v[i2, 1] - v[i0, 1], v[i2, 2] - v[i0, 2]
        l0 = max(np.sqrt(e0x * e0x + e0y * e0y + e0z * e0z), 1e-12)
        ax, ay, az = e0x / l0, e0y / l0, e0z / l0  # axis0: the edge
        nx, ny, nz = ay * e1z - az * e1y, az * e1x - ax * e1z, ax * e1y - ay * e1x
        ln = max(np.sqrt(nx * nx + ny * ny + nz * nz), 1e-12)
        nx, ny, nz = nx / ln, ny / ln, nz / ln  # axis1: the normal
        bx, by, bz = ay * nz - az * ny, az * nx - ax * nz, ax * ny - ay * nx  # axis2 = a0 × a1
        k = 0.5 * (l0 + abs(bx * e1x + by * e1y + bz * e1z))
        lx, ly, lz = xyz[g, 0], xyz[g, 1], xyz[g, 2]
        means[g, 0] = k * (ax * lx + nx * ly + bx * lz) + (v[i0, 0] + v[i1, 0] + v[i2, 0]) / 3.0
        means[g, 1] = k * (ay * lx + ny * ly + by * lz) + (v[i0, 1] + v[i1, 1] + v[i2, 1]) / 3.0
        means[g, 2] = k * (az * lx + nz * ly + bz * lz) + (v[i0, 2] + v[i1, 2] + v[i2, 2]) / 3.0
        for j in range(3):
            scales[g, j] = k * np.exp(log_scale[g, j])
        normals[g, 0], normals[g, 1], normals[g, 2] = nx, ny, nz
        # R = [a0 n a2] (columns) → quaternion, Shepperd's branch on the largest term.
        m00, m11, m22 = ax, ny, bz
        tr = m00 + m11 + m22
        if tr > 0.0:
            s = 2.0 * np.sqrt(tr + 1.0)
            w, x, y, z = 0.25 * s, (nz - by) / s, (bx - az) / s, (ay - nx) / s
        elif m00 > m11 and m00 > m22:
            s = 2.0 * np.sqrt(1.0 + m00 - m11 - m22)
            w, x, y, z = (nz - by) / s, 0.25 * s, (nx + ay) / s, (bx + az) / s
        elif m11 > m22:
            s = 2.0 * np.sqrt(1.0 + m11 - m00 - m22)
            w, x, y, z = (bx - az) / s, (nx + ay) / s, 0.25 * s, (by + nz) / s
        else:
            s = 2.0 * np.sqrt(1.0 + m22 - m00 - m11)
            w, x, y, z = (ay - nx) / s, (bx + az) / s, (by + nz) / s, 0.25 * s
        qw, qx, qy, qz = rot[g, 0], rot[g, 1], rot[g, 2], rot[g, 3]  # q_R ⊗ q_local
        quats[g, 0] = w * qw - x * qx - y * qy - z * qz
        quats[g, 1] = w * qx + x * qw + y * qz - z * qy
        quats[g, 2] = w * qy - x * qz + y * qw + z * qx
        quats[g, 3] = w * qz + x * qy - y * qx + z * qw


def bind_frame(
    verts: np.ndarray,
    faces: np.ndarray,
    binding: np.ndarray,
    xyz: np.ndarray,
    log_scale: np.ndarray,
    rot: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One posed mesh ``verts [V, 3]`` → means ``[N, 3]``, quats ``[N, 4]`` (wxyz), scales
    ``[N, 3]`` and normals ``[N, 3]``, float32 (inputs as ``binding.bind``'s, numpy)."""
    n = binding.shape[0]
    out = [np.empty((n, w), np.float32) for w in (3, 4, 3, 3)]
    _bind(np.ascontiguousarray(verts, np.float32), faces, binding, xyz, log_scale, rot, *out)
    return out[0], out[1], out[2], out[3]


@_jit(nogil=True)
def _shade_cull(
    means,  # [N, 3] f4 bound means, offsets already added
    normals,  # [N, 3] f4 triangle normals
    eye,  # [3] f4 camera position (``cull``) — else the view is +z for every Gaussian
    cull,  # bool: drop the Gaussians facing away from ``eye`` (past ``margin``)
    margin,  # f4 ``avatar.BACKFACE_MARGIN``
    shading,  # bool: lit colours, else the albedo as it is
    albedo,  # [N, 3] f4
    soft,  # [N] f4
    strength,  # [N] f4 specular strength
    exponent,  # [N] f4 Blinn–Phong exponent
    light,  # [3] f4 key light direction
    fill,  # [3] f4 fill light direction
    consts,  # [4] f4 AMBIENT, DIFFUSE, FILL, RIM
    quats,  # [N, 4] f4 bound rotations
    scales,  # [N, 3] f4 bound scales
    opacity,  # [N] f4
    colours,  # [N, 3] f4 out: the kept Gaussians' colours (first ``count`` rows)
    kept_means,  # [N, 3] f4 out (``cull``): the kept Gaussians' rows, in order
    kept_quats,  # [N, 4] f4 out (``cull``)
    kept_scales,  # [N, 3] f4 out (``cull``)
    kept_opacity,  # [N] f4 out (``cull``)
):
    """``GaussianAvatar.shade`` and the back-face cull of ``GaussianAvatar.scenes`` in one
    pass per Gaussian (the numpy code the reference), the kept rows gathered as it goes;
    returns how many were kept."""
    ambient, diffuse, fill_k, rim_k = consts[0], consts[1], consts[2], consts[3]
    one, zero = np.float32(1.0), np.float32(0.0)
    count = 0
    for g in range(means.shape[0]):
        nx, ny, nz = normals[g, 0], normals[g, 1], normals[g, 2]
        if cull:
            wx, wy, wz = eye[0] - means[g, 0], eye[1] - means[g, 1], eye[2] - means[g, 2]
            length = np.sqrt(wx * wx + wy * wy + wz * wz)
            if not (nx * wx + ny * wy + nz * wz > -margin * length):
                continue
            vx, vy, vz = wx / length, wy / length, wz / length
        else:
            vx, vy, vz = zero, zero, one
        if cull:
            for c in range(3):
                kept_means[count, c] = means[g, c]
                kept_scales[count, c] = scales[g, c]
            for c in range(4):
                kept_quats[count, c] = quats[g, c]
            kept_opacity[count] = opacity[g]
        if not shading:
            for c in range(3):
                colours[count, c] = albedo[g, c]
            count += 1
            continue
        key = max(nx * light[0] + ny * light[1] + nz * light[2], zero)
        k = ambient + diffuse * key + fill_k * max(nx * fill[0] + ny * fill[1] + nz * fill[2], zero)
        k = k + soft[g] * (np.float32(0.95) - k) * np.float32(0.7)
        facing = min(max(nx * vx + ny * vy + nz * vz, zero), one)
        rim = rim_k * (one - facing) ** 3
        hx, hy, hz = light[0] + vx, light[1] + vy, light[2] + vz
        hl = max(np.sqrt(hx * hx + hy * hy + hz * hz), np.float32(1e-6))
        spec = zero
        if key > zero:
            nh = max((nx * hx + ny * hy + nz * hz) / hl, zero)
            spec = strength[g] * nh ** exponent[g]
        for c in range(3):
            colours[count, c] = min(max(albedo[g, c] * (k + rim) + spec, zero), one)
        count += 1
    return count


def shade_cull(
    avatar: Any,
    means: np.ndarray,
    quats: np.ndarray,
    scales: np.ndarray,
    opacity: np.ndarray,
    normals: np.ndarray,
    cull_from: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One frame's Gaussians as drawn: means ``[M, 3]``, quats ``[M, 4]``, scales ``[M, 3]``,
    opacities ``[M]`` and colours ``[M, 3]``, float32 — ``avatar.shade`` and, with a camera
    position ``cull_from [3]``, the back-face cull of ``avatar.scenes`` (the bound
    ``[N, …]`` rows and triangle normals in; without ``cull_from`` all are kept as they are)."""
    albedo, soft, strength, exponent, light, fill, lights, margin = avatar.shade_arrays()
    n = means.shape[0]
    cull = cull_from is not None
    eye = np.asarray(cull_from if cull else np.zeros(3), np.float32).reshape(3)
    colours = np.empty((n, 3), np.float32)
    rows = n if cull else 0  # the kept rows are gathered only when some are dropped
    kept = (
        np.empty((rows, 3), np.float32),
        np.empty((rows, 4), np.float32),
        np.empty((rows, 3), np.float32),
        np.empty(rows, np.float32),
    )
    count = _shade_cull(
        means,
        normals,
        eye,
        cull,
        margin,
        bool(avatar.shading),
        albedo,
        soft,
        strength,
        exponent,
        light,
        fill,
        lights,
        quats,
        scales,
        opacity,
        colours,
        *kept,
    )
    if not cull:
        return means, quats, scales, opacity, colours
    return kept[0][:count], kept[1][:count], kept[2][:count], kept[3][:count], colours[:count]
