"""Gaussian avatars: Gaussians bound to a head model's triangles (RSATalker §3.4).

- ``avatar``: ``GaussianAvatar`` (per-frame scenes, shading, storage), ``create_avatar`` and
  ``load_avatar``;
- ``binding``: the GaussianAvatars triangle-frame binding in torch (reference, differentiable);
- ``binding_fast``: the same binding for one frame, numba-compiled (the video path);
- ``offsetnet``: RSATalker's Gaussian offsetnet, per-anchor offsets from the social query.
"""
