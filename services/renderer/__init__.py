"""The renderer service: head models, Gaussian avatars, rasterisers and video (RSATalker §3.4)."""
