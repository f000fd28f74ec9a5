"""Metric names in a PromQL expression — enough of PromQL to check dashboards and alerts.

Removes what is not a metric name (strings, label matchers ``{…}``, ranges ``[…]``, grouping
clauses ``by (…)``/``on (…)``…, numbers and durations), then keeps every identifier that is
neither a function call nor a keyword. A ``{__name__=…}`` selector is refused: the check
could not see the name.
"""

from __future__ import annotations

import re

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_NUMBER = re.compile(
    r"(?<![\w:])(0x[0-9a-fA-F]+|(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?([a-zA-Z]+\d*)*)"
)  # numbers, hex, durations (1h30m)
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "atan2"}
)


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects (``$variables`` are ignored)."""
    if "__name__" in expr:
        raise ValueError(f"{expr!r}: select metrics by name, not with __name__")
    text = _STRING.sub(" ", expr)
    text = re.sub(r"\$\{?\w+\}?", " ", text)
    while True:  # innermost first: matchers and ranges never nest, but be safe
        reduced = _RANGE.sub(" ", _MATCHERS.sub(" ", text))
        if reduced == text:
            break
        text = reduced
    text = _GROUPING.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names = set()
    for m in _IDENT.finditer(text):
        rest = text[m.end() :].lstrip()
        if rest.startswith("(") or m.group().lower() in KEYWORDS:
            continue  # a function or an aggregation
        names.add(m.group())
    return names
