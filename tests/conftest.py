"""Fixtures of the cross-service tests: a real gateway (``make_stack``) for the job tests."""

from dyad.services.gateway.tests.stack import make_stack

__all__ = ["make_stack"]
