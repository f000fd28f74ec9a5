"""Batch workers and the orchestrator that composes the stages (embedded or served)."""
