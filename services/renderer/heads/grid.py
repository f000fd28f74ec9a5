"""The skin's vertex grid: rays from the head centre by rows (polar angle) and columns (azimuth).

Columns are mirror-symmetric and denser over the face and at the ears. Rows run from the crown
to the flat base of the neck; over the face they are placed at heights on the front meridian
(so brows, eyes, nose, lips and chin each get rows), elsewhere evenly in angle. The eye and
mouth bands get per-column rows: inside an opening they follow the lid and lip outlines
(``folds.lid_heights``/``lip_heights``), at the corners they pinch together, and over a
short distance beyond they return to the nominal rows. The rows next to a band share the room
between it and the rows beyond, so rows never cross (checked).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyad.errors import Internal

from .folds import (
    EYE_BAND,
    LIP_GAP,
    MOUTH_BAND,
    MOUTH_INNER,
    lid_heights,
    lip_heights,
    smoothstep,
)
from .shape import HairStyle
from .surface import Landmarks, cast_rays, sphere_directions

N_COLS = 60  # even: mirror-symmetric, with columns at 0 (the front meridian) and π


@dataclass(frozen=True)
class SkinGrid:
    theta: np.ndarray  # [R, C] polar angle of every skin vertex
    phi: np.ndarray  # [C] azimuth of every column
    i_eye: int  # first row of the eye band (upper lid margin)
    i_mouth: int  # first row of the mouth band (upper vermilion border)
    i_chin: int  # the row through the chin
    eye_s: np.ndarray  # [C] across the nearer eye: −1 inner … +1 outer corner (nan off the face)
    eye_side: np.ndarray  # [C] +1 the left eye's side (+x), −1 the right's
    mouth_s: np.ndarray  # [C] across the mouth: −1 right corner … +1 left corner


def _columns(n: int) -> np.ndarray:
    """Azimuths in (−π, π], mirror-symmetric, dense over the face and at the ears."""
    fine = np.linspace(0.0, np.pi, 4001)
    dens = 1.0 + 2.1 * np.exp(-((fine / 0.80) ** 4)) + 1.7 * np.exp(-(((fine - 1.72) / 0.24) ** 2))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(fine))])
    half = n // 2
    phi = np.interp(np.arange(half + 1) / half * cdf[-1], cdf, fine)
    phi[0], phi[-1] = 0.0, np.pi
    return np.concatenate([-phi[half - 1 : 0 : -1], phi])


def _meridian(lm: Landmarks, hair: HairStyle, phi: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Surface points ``[len(theta), len(phi), 3]`` on the rays of a (theta, phi) grid."""
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    d = sphere_directions(th.ravel(), ph.ravel())
    return (d * cast_rays(d, lm, hair)[:, None]).reshape(len(theta), len(phi), 3)


def _theta_for_y(table_theta: np.ndarray, table_y: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Invert a column's y(θ) (made non-increasing) at heights ``y``."""
    ymono = np.minimum.accumulate(table_y)
    return np.interp(-y, -ymono, table_theta)


def _spaced(start: float, stop: float, step: float) -> np.ndarray:
    """Values from ``start`` towards ``stop`` (exclusive of both), about ``step`` apart."""
    n = max(round(abs(stop - start) / step), 1)
    return start + (stop - start) * np.arange(1, n) / n


def skin_grid(lm: Landmarks, hair: HairStyle) -> SkinGrid:
    """Rows and columns of the skin for one head (rays are cast on ``lm``'s surface)."""
    h = lm.shape.head_height
    phi = _columns(N_COLS)
    n_c = len(phi)

    # --- rows: nominal polar angles, from heights on the front meridian where the face is ---
    front_theta = np.linspace(0.02, np.pi - 0.02, 500)
    front = _meridian(lm, hair, np.zeros(1), front_theta)[:, 0]
    theta_of = lambda y: _theta_for_y(front_theta, front[:, 1], np.asarray(y, float))  # noqa: E731
    th_hair = float(theta_of(lm.y_hairline))
    ye, ym = lm.y_eye, lm.y_mouth
    eye_nominal = ye + np.array([0.0045, 0.0022, 0.0, -0.0022, -0.0045]) * h
    mouth_nominal = ym + np.linspace(0.0085, -0.0105, MOUTH_BAND) * h
    crown = th_hair * np.arange(1, 10) / 10.0
    forehead = np.concatenate(
        [
            [lm.y_hairline],
            _spaced(lm.y_hairline, lm.y_brow + 0.010 * h, 0.0065 * h),
            [lm.y_brow + 0.010 * h],
            _spaced(lm.y_brow + 0.010 * h, eye_nominal[0], 0.0032 * h),
        ]
    )
    mid = _spaced(eye_nominal[-1], mouth_nominal[0], 0.0033 * h)
    chin = np.concatenate([_spaced(mouth_nominal[-1], lm.y_chin, 0.0036 * h), [lm.y_chin]])
    th_chin = float(theta_of(lm.y_chin))
    neck = th_chin + (np.pi - th_chin) * (1.0 - (1.0 - np.arange(1, 15) / 15.0) ** 1.25)
    ys = np.concatenate([forehead, eye_nominal, mid, mouth_nominal, chin])
    theta_rows = np.concatenate([crown, theta_of(ys), neck])
    i_eye = len(crown) + len(forehead)
    i_mouth = i_eye + EYE_BAND + len(mid)
    theta = np.repeat(theta_rows[:, None], n_c, axis=1)  # [R, C]

    # --- per-column tables over the face, and where each column crosses eyes and mouth ---
    face_cols = np.flatnonzero(np.abs(phi) < 1.25)
    tab_theta = np.linspace(theta_of(lm.y_brow + 0.02), theta_of(lm.y_chin + 0.01), 160)
    tab = _meridian(lm, hair, phi[face_cols], tab_theta)  # [160, Cf, 3]
    x_eye_row = np.array(
        [
            np.interp(-ye, -np.minimum.accumulate(tab[:, k, 1]), tab[:, k, 0])
            for k in range(len(face_cols))
        ]
    )
    x_mouth_row = np.array(
        [
            np.interp(-ym, -np.minimum.accumulate(tab[:, k, 1]), tab[:, k, 0])
            for k in range(len(face_cols))
        ]
    )
    col_x_eye = np.full(n_c, np.nan)
    col_x_mouth = np.full(n_c, np.nan)
    col_x_eye[face_cols] = x_eye_row
    col_x_mouth[face_cols] = x_mouth_row
    eye_side_col = np.where(np.nan_to_num(col_x_eye) >= 0.0, 1.0, -1.0)
    eye_s_col = (np.abs(col_x_eye) - lm.x_eye) / lm.eye_half_width  # −1 inner, +1 outer
    mouth_s_col = col_x_mouth / lm.mouth_half_width

    def theta_in_col(k: int, y: np.ndarray) -> np.ndarray:
        return _theta_for_y(tab_theta, tab[:, k, 1], y)

    eye_tau, mouth_tau = 0.9, 0.8
    gap_eye, gap_mouth = 0.0005, LIP_GAP
    tilt = 0.0010 * h
    for k, c in enumerate(face_cols):
        s = eye_s_col[c]
        if np.isfinite(s) and abs(s) < 1.0 + eye_tau:
            sc = float(np.clip(s, -1.0, 1.0))
            up, lo = lid_heights(sc, lm)
            centre = ye + tilt * sc
            targets = centre + np.linspace(up + gap_eye, -lo - gap_eye, EYE_BAND)
            blend = float(smoothstep(1.0, 1.0 + eye_tau, abs(s)))
            theta[i_eye : i_eye + EYE_BAND, c] = (1 - blend) * theta_in_col(
                k, targets
            ) + blend * theta_rows[i_eye : i_eye + EYE_BAND]
        s = mouth_s_col[c]
        if np.isfinite(s) and abs(s) < 1.0 + mouth_tau:
            sc = float(np.clip(s, -1.0, 1.0))
            up, lo = lip_heights(sc, lm)
            targets = ym + np.concatenate(
                [
                    [up + gap_mouth, 0.5 * up + gap_mouth, gap_mouth],
                    np.linspace(gap_mouth * 0.6, -gap_mouth * 0.6, MOUTH_INNER),
                    [-gap_mouth, -0.5 * lo - gap_mouth, -lo - gap_mouth],
                ]
            )
            blend = float(smoothstep(1.0, 1.0 + mouth_tau, abs(s)))
            theta[i_mouth : i_mouth + MOUTH_BAND, c] = (1 - blend) * theta_in_col(
                k, targets
            ) + blend * theta_rows[i_mouth : i_mouth + MOUTH_BAND]
    # The rows next to each band share out the room between the band and the rows beyond.
    for first, last in (
        (i_eye - 5, i_eye),
        (i_eye + EYE_BAND - 1, i_eye + EYE_BAND + 4),
        (i_mouth - 4, i_mouth),
        (i_mouth + MOUTH_BAND - 1, i_mouth + MOUTH_BAND + 3),
    ):
        t = (np.arange(first + 1, last) - first)[:, None] / (last - first)
        theta[first + 1 : last] = (1 - t) * theta[first] + t * theta[last]
    if not np.all(np.diff(theta, axis=0) > 0.0):
        raise Internal("procedural head rows cross: a shape outside the tested combinations")
    return SkinGrid(
        theta=theta,
        phi=phi,
        i_eye=i_eye,
        i_mouth=i_mouth,
        i_chin=i_mouth + MOUTH_BAND + len(chin) - 1,
        eye_s=eye_s_col,
        eye_side=eye_side_col,
        mouth_s=mouth_s_col,
    )
