"""Every settings table in a README is the one its settings class generates (one check for all
of them; ``python -m tests.readme_tables`` rewrites them after a settings change)."""

from __future__ import annotations

import pytest

from dyad.config import settings_table
from tests.readme_tables import REPO, TABLES, table_span


@pytest.mark.parametrize(
    ("readme", "cls", "prefix"), TABLES, ids=[f"{r}:{c.__name__}" for r, c, _ in TABLES]
)
def test_readme_settings_table_is_current(readme: str, cls: type, prefix: str) -> None:
    text = (REPO / readme).read_text()
    assert table_span(text, cls, prefix) is not None, f"{readme} has no table for {cls.__name__}"
    assert settings_table(cls, prefix=prefix) in text, (
        f"{readme}: the {cls.__name__} table is out of date; run `python -m tests.readme_tables`"
    )


def test_every_settings_class_is_documented() -> None:
    """A settings class anywhere in the code has a row in ``TABLES``."""
    import importlib
    import pkgutil

    import dyad
    import dyad.services

    documented = {cls for _, cls, _ in TABLES}
    found = set()
    for path, prefix in ((dyad.__path__, "dyad."), (dyad.services.__path__, "dyad.services.")):
        for info in pkgutil.walk_packages(path, prefix):
            if info.name.endswith("settings"):
                module = importlib.import_module(info.name)
                found |= {
                    obj
                    for name, obj in vars(module).items()
                    if name.endswith("Settings") and getattr(obj, "__module__", "") == info.name
                }
    assert found <= documented, sorted(c.__name__ for c in found - documented)
