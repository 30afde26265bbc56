"""Instrumentation of ``databricks-sdk``: one patch on ``ApiClient.do``, a route table of per-service handlers
(jobs, pipelines, statement execution, commands, clusters) and run-lifetime spans.

Nothing here imports the SDK until :meth:`WorkspacePatches.install` runs.
"""

from .patch import WorkspacePatches

__all__ = ["WorkspacePatches"]
