"""What the chart's values files document and what its schema covers.

``undocumented_keys`` finds keys of a values file without a comment; ``schema_paths``,
``value_paths`` and ``free_form_paths`` give the dotted paths a values.schema.json names, a
values tree uses and the schema leaves free-form, so a test can show that the schema covers
every value (tests/test_chart_values.py) and the checks can be run on broken copies.
"""

from __future__ import annotations

import re
from typing import Any

_KEY = re.compile(r"^(?P<indent>\s*)(?:-\s+)?(?P<key>[A-Za-z0-9_.\-/]+|\"[^\"]+\"):(?:\s|$)")


def undocumented_keys(text: str) -> list[str]:
    """Keys of a values file without a comment on the line(s) just above or at the line's end.

    A key counts as documented when the nearest preceding line is a comment (a comment block
    right above it; a blank line in between breaks the link) or when its own line ends with a
    comment. Keys inside block scalars are not keys; the file uses none.
    """
    problems = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("#") or not line.strip():
            continue
        m = _KEY.match(line)
        if not m:
            continue
        rest = line[m.end() :]
        inline = re.search(r"\s#\s", " " + rest) is not None
        above = i > 0 and lines[i - 1].lstrip().startswith("#")
        if not (inline or above):
            problems.append(f"line {i + 1}: {m.group('key')}")
    return problems


def schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths the schema names (list items as ``[]``)."""
    out = set()
    for k, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}{k}"
        out.add(path)
        out |= schema_paths(sub, path + ".")
        if isinstance(sub.get("items"), dict):
            out |= schema_paths(sub["items"], path + ".[].")
    return out


def value_paths(values: Any, prefix: str = "", free: frozenset[str] = frozenset()) -> set[str]:
    """Dotted paths of a values tree, not descending into free-form maps (``free``)."""
    out: set[str] = set()
    if isinstance(values, dict):
        for k, v in values.items():
            path = f"{prefix}{k}"
            out.add(path)
            if path not in free:
                out |= value_paths(v, path + ".", free)
    elif isinstance(values, list):
        for item in values:
            if isinstance(item, dict) and prefix[:-1] not in free:
                out |= value_paths(item, prefix + "[].", free)
    return out


def free_form_paths(schema: dict[str, Any], prefix: str = "") -> frozenset[str]:
    """Paths whose schema is an object or array without named properties (free-form)."""
    out = set()
    for k, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}{k}"
        items = sub.get("items")
        named_items = isinstance(items, dict) and bool(items.get("properties"))
        free_object = sub.get("type") == "object" and not sub.get("properties")
        if free_object or (sub.get("type") == "array" and not named_items):
            out.add(path)
        out |= free_form_paths(sub, path + ".")
        if isinstance(items, dict):
            out |= free_form_paths(items, path + ".[].")
    return frozenset(out)
