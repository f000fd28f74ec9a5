"""Head pose from MediaPipe's facial transformation matrix, in Dyad's convention.

Ours (DESIGN.md §2, ``renderer.heads.model.euler_yxz``): head coordinates with y up and the face
looking along +z; the head turns by ``R = Ry(yaw)·Rx(pitch)·Rz(roll)``. MediaPipe's matrix maps
its canonical face (x to the subject's left, y up, the face looking along +z) into camera space
with the camera looking along −z and y up: for a camera in front of the face that is the same
frame as ours, so the angles read off the rotation need no sign flips (checked by rendering: a
head turned by a known yaw/pitch/roll reads back with the same signs,
``tests/test_tracking_render.py``).

One constant separates the two rest poses: MediaPipe's canonical face at identity rotation is
tilted ``CANONICAL_PITCH_RAD`` chin-up relative to our human head at rest (the MakeHuman bust,
``renderer/heads/human``: its rest pose, filmed face-on at eye level, reads as pitch +0.095 rad).
The tracker undoes it on the head's own x axis, ``R_ours = R_mp · Rx(−c)``, so a face looking
straight into the camera gives pitch ≈ 0 and the tracked motion drives our heads as filmed.
"""

from __future__ import annotations

import numpy as np

#: Pitch of MediaPipe's canonical face relative to our head's rest pose (radians; measured on
#: renders of the human head, see the module docstring).
CANONICAL_PITCH_RAD = 0.095


def rotation_part(matrices: np.ndarray) -> np.ndarray:
    """The nearest rotations ``[..., 3, 3]`` to the 3×3 blocks of ``matrices [..., 4, 4]``
    (polar decomposition: strips any scale the geometry pipeline left in)."""
    m = np.asarray(matrices, np.float64)[..., :3, :3]
    u, _, vt = np.linalg.svd(m)
    r = u @ vt
    flip = np.linalg.det(r) < 0  # a reflection is no pose; flip the weakest axis
    if np.any(flip):
        u = u.copy()
        u[flip, :, 2] *= -1
        r = u @ vt
    return r


def matrices_to_pose(matrices: np.ndarray) -> np.ndarray:
    """``[T, 4, 4]`` facial transformation matrices → ``[T, 3]`` headPitch, headYaw, headRoll
    (radians, our convention, rest offset removed)."""
    c = CANONICAL_PITCH_RAD
    undo = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(c), np.sin(c)], [0.0, -np.sin(c), np.cos(c)]])
    r = rotation_part(matrices) @ undo  # R_mp · Rx(−c)
    # Inverse of euler_yxz: r12 = −sin p; r02 = sin y cos p, r22 = cos y cos p;
    # r10 = cos p sin r, r11 = cos p cos r.
    pitch = np.arcsin(np.clip(-r[:, 1, 2], -1.0, 1.0))
    yaw = np.arctan2(r[:, 0, 2], r[:, 2, 2])
    roll = np.arctan2(r[:, 1, 0], r[:, 1, 1])
    return np.stack([pitch, yaw, roll], axis=1)
