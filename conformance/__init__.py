"""Conformance measurements of the emulator against the Databricks connectors' own test suites."""
