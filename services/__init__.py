"""Dyad's services, one folder each, imported as ``dyad.services.<name>`` (DESIGN.md §3)."""
