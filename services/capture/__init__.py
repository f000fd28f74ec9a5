"""Capture: real people in — face tracking from video, avatars fitted to a person's video
(RSATalker stages 2–3), synthetic ground truth for both, corpora from real conversations.

A composition root (ARCHITECTURE.md): fitting drives the renderer's avatars and rasteriser,
synthetic data the motion service's procedural animator; tracking itself (``tracking/``)
depends on no service.
"""
