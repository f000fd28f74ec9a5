"""Fixtures shared by the renderer's test modules."""

from __future__ import annotations

import pytest

from dyad.services.renderer.heads.procedural import ProceduralHead


@pytest.fixture(scope="module")
def head() -> ProceduralHead:
    """The default procedural head (built once per test module)."""
    return ProceduralHead()
