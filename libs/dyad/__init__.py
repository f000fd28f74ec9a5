"""Dyad: two-person conversational 3D talking heads.

The shared library. Service code lives in ``dyad.services.<name>``; wire contracts in
``dyad.v1`` (generated from ``protos/`` by ``make protos``). Conventions: DESIGN.md §2.
"""

__version__ = "0.1.0"
