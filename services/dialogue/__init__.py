"""Dialogue writing and interactive emotional speech (CHAT TDG + DADG/IAR)."""
