"""The gateway tests' fixtures (``stack``: a real gateway on redis-server and a store)."""

from .stack import make_stack

__all__ = ["make_stack"]
