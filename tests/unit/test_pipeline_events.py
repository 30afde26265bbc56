"""The end of a pipeline update, read from its event log page the way the REST API and the SDK return it."""

from __future__ import annotations

from opentelemetry_instrumentation_databricks.workspace.pipeline_updates import end_from_events


def _event(update_id: str, message: str, timestamp: str, **extra) -> dict:
    return {
        "event_type": "update_progress",
        "origin": {"update_id": update_id},
        "message": message,
        "timestamp": timestamp,
        **extra,
    }


def test_terminal_state_is_read_from_the_message_when_the_event_has_no_details():
    page = [
        _event("u-2", "Update u-2 is COMPLETED.", "2026-12-01T10:00:09.000Z"),
        _event("u-1", "Update u-1 is FAILED.", "2026-12-01T10:05:00.250Z"),
        _event("u-1", "Update u-1 is RUNNING.", "2026-12-01T10:01:00.000Z"),
    ]
    assert end_from_events(page, "u-1") == 1_796_119_500_250_000_000


def test_terminal_state_is_read_from_details_when_present():
    page = [_event("u-1", "done", "2026-12-01T10:05:00Z", details={"update_progress": {"state": "CANCELED"}})]
    assert end_from_events(page, "u-1") == 1_796_119_500_000_000_000


def test_no_terminal_event_means_no_end():
    assert end_from_events([_event("u-1", "Update u-1 is RUNNING.", "2026-12-01T10:01:00Z")], "u-1") is None
    assert end_from_events(None, "u-1") is None
    assert end_from_events([{"event_type": "update_progress", "timestamp": "not a time"}], "u-1") is None
