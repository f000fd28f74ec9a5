"""Dual-speaker motion: the procedural animator (and the neural model, issue 6)."""
