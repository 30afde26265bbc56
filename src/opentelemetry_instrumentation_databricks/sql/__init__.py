"""Instrumentation of ``databricks-sql-connector``: one CLIENT span per statement, query tags, estimates."""

from .patches import SqlPatches

__all__ = ["SqlPatches"]
