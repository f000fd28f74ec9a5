"""Avatar fitting (issue 18, RSATalker stage 2): a Gaussian avatar fitted to a person.

Geometry (``geometry``, ``correspondence``, ``shape_model``): the identity's head shape, the
cameras and the per-frame pose from landmarks. Photometric (``run.fit_avatar``): the
Gaussians' positions, scales, rotations, opacities and colours plus a per-frame correction
of the rig motion, optimised against the frames (``losses``: eq. 10–12), with density
control that keeps every Gaussian bound to its triangle (``density``); the human head is
posed in torch for that (``posing``). ``cli``: ``dyad avatar fit``.
"""
