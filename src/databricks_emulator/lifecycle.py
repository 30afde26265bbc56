"""How simulated work unfolds over emulator time: default durations, scripted outcomes, and polls that move the clock.

Every job task, pipeline update and notebook command takes its duration and result from here when it starts:
first from the newest matching :class:`Outcomes` rule, else from :class:`Timing`. States are then computed from
the clock on every read, so ``clock.advance()`` moves all work at once and a frozen clock stands everything still.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .workspace import Workspace

SETTLE = "settle"

TASK_RESULTS = ("SUCCESS", "FAILED", "TIMEDOUT", "CANCELED", "INTERNAL_ERROR")
UPDATE_RESULTS = ("COMPLETED", "FAILED", "CANCELED")
COMMAND_STATUSES = ("Finished", "Error", "Cancelled")

DEFAULT_TASK_SECONDS: dict[str, float] = {
    "notebook_task": 120.0,
    "spark_python_task": 90.0,
    "python_wheel_task": 90.0,
    "spark_jar_task": 180.0,
    "spark_submit_task": 240.0,
    "sql_task": 30.0,
    "dbt_task": 120.0,
    "run_job_task": 60.0,
    "condition_task": 0.0,
}

_TASK_MATCH_KEYS = frozenset(
    {"task_key", "task_type", "notebook_path", "python_file", "main_class_name", "package_name", "job_id", "run_name"}
)
_UPDATE_MATCH_KEYS = frozenset({"pipeline_id", "name"})
_COMMAND_MATCH_KEYS = frozenset({"contains", "cluster_id", "language"})


@dataclass
class Timing:
    """Default simulated durations, in seconds. Change them on ``ws.timing`` before the work starts."""

    cluster_start_seconds: float = 240.0
    cluster_terminate_seconds: float = 15.0
    serverless_start_seconds: float = 8.0
    task_setup_seconds: float = 2.0
    task_cleanup_seconds: float = 1.0
    default_task_seconds: float = 60.0
    task_seconds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TASK_SECONDS))
    autoscale_up_seconds: float | None = 120.0
    pipeline_queue_seconds: float = 1.0
    pipeline_initializing_seconds: float = 20.0
    pipeline_setting_up_tables_seconds: float = 10.0
    pipeline_run_seconds: float = 120.0
    pipeline_stop_seconds: float = 5.0
    context_start_seconds: float = 0.0
    command_queue_seconds: float = 0.0
    command_seconds: float = 1.0

    def task_duration(self, task_type: str) -> float:
        return self.task_seconds.get(task_type, self.default_task_seconds)


@dataclass(frozen=True)
class TaskOutcome:
    """How a job task run ends: ``result`` after ``seconds`` of RUNNING (``None``: the default for its type).

    ``INTERNAL_ERROR`` ends the run in life-cycle state ``INTERNAL_ERROR`` (what ``Wait.result()`` raises on);
    ``FAILED`` and ``TIMEDOUT`` end it ``TERMINATED`` with that result state. ``output`` is the notebook's exit
    value or the task's logs.
    """

    result: str = "SUCCESS"
    seconds: float | None = None
    message: str | None = None
    output: str | None = None


@dataclass(frozen=True)
class UpdateOutcome:
    """How a pipeline update ends: ``result`` after ``seconds`` in RUNNING (``None``: the ``Timing`` default)."""

    result: str = "COMPLETED"
    seconds: float | None = None
    message: str | None = None


@dataclass(frozen=True)
class CommandOutcome:
    """How a notebook command ends: its status, and either text ``output`` or a Python ``error`` (a traceback)."""

    status: str = "Finished"
    seconds: float | None = None
    output: str | None = None
    error: str | None = None


@dataclass
class _Rule:
    match: dict[str, Any]
    outcome: Any
    times: int | None


class Outcomes:
    """Scripted endings, newest rule first; a rule with ``times=n`` is used up after ``n`` matches.

    ::

        ws.outcomes.task("FAILED", notebook_path="/etl/daily", message="Division by zero")
        ws.outcomes.task(seconds=3600, task_key="train")
        ws.outcomes.task("INTERNAL_ERROR", times=1)
        ws.outcomes.update("FAILED", pipeline_id=pipeline_id)
        ws.outcomes.command(error="ZeroDivisionError: division by zero", contains="1/0")
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, list[_Rule]] = {"task": [], "update": [], "command": []}

    def task(
        self,
        result: str = "SUCCESS",
        *,
        seconds: float | None = None,
        message: str | None = None,
        output: str | None = None,
        times: int | None = None,
        **match: Any,
    ) -> None:
        """Script job task runs. Match on ``task_key``, ``task_type`` (e.g. ``"notebook_task"``),
        ``notebook_path``, ``python_file``, ``main_class_name``, ``package_name``, ``job_id`` or ``run_name``."""
        _check(result, TASK_RESULTS, "result")
        _check_keys(match, _TASK_MATCH_KEYS)
        self._add("task", match, TaskOutcome(result, _seconds(seconds), message, output), times)

    def update(
        self,
        result: str = "COMPLETED",
        *,
        seconds: float | None = None,
        message: str | None = None,
        times: int | None = None,
        **match: Any,
    ) -> None:
        """Script pipeline updates. Match on ``pipeline_id`` or ``name`` (the pipeline's)."""
        _check(result, UPDATE_RESULTS, "result")
        _check_keys(match, _UPDATE_MATCH_KEYS)
        self._add("update", match, UpdateOutcome(result, _seconds(seconds), message), times)

    def command(
        self,
        *,
        output: str | None = None,
        error: str | None = None,
        status: str = "Finished",
        seconds: float | None = None,
        times: int | None = None,
        **match: Any,
    ) -> None:
        """Script notebook commands. Match on ``contains`` (a substring of the command), ``cluster_id`` or
        ``language``. ``error`` makes the command finish with a Python error result, as Databricks reports one."""
        _check(status, COMMAND_STATUSES, "status")
        _check_keys(match, _COMMAND_MATCH_KEYS)
        self._add("command", match, CommandOutcome(status, _seconds(seconds), output, error), times)

    def clear(self) -> None:
        with self._lock:
            for rules in self._rules.values():
                rules.clear()

    def for_task(self, facts: dict[str, Any]) -> TaskOutcome:
        return self._take("task", facts) or TaskOutcome()

    def for_update(self, facts: dict[str, Any]) -> UpdateOutcome:
        return self._take("update", facts) or UpdateOutcome()

    def for_command(self, facts: dict[str, Any]) -> CommandOutcome:
        return self._take("command", facts) or CommandOutcome()

    def _add(self, kind: str, match: dict[str, Any], outcome: Any, times: int | None) -> None:
        if times is not None and times < 1:
            raise ValueError(f"times={times!r}: pass a positive count, or None for a rule that never runs out")
        with self._lock:
            self._rules[kind].insert(0, _Rule(dict(match), outcome, times))

    def _take(self, kind: str, facts: dict[str, Any]) -> Any:
        with self._lock:
            rules = self._rules[kind]
            for index, rule in enumerate(rules):
                if all(_matches(key, expected, facts.get(key)) for key, expected in rule.match.items()):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            del rules[index]
                    return rule.outcome
        return None


class Lifecycle:
    """Per-workspace timing, outcomes, and the auto-advance mode of status polls."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.timing = Timing()
        self.outcomes = Outcomes()
        self._auto_advance: float | str | None = None

    @property
    def auto_advance_on_poll(self) -> float | str | None:
        """``None`` (off), seconds to advance the clock before answering each status poll, or ``"settle"``:
        advance just far enough that the polled run, update, command or cluster has reached its next stable state
        (terminal, or RUNNING for a starting cluster), so an SDK waiter returns on its first poll."""
        return self._auto_advance

    @auto_advance_on_poll.setter
    def auto_advance_on_poll(self, value: float | str | None) -> None:
        if value is not None and value != SETTLE and (isinstance(value, str) or float(value) < 0):
            raise ValueError(f"auto_advance_on_poll={value!r}: use None, seconds >= 0, or {SETTLE!r}")
        self._auto_advance = value

    def on_poll(self, settles_at: float | None) -> None:
        """Move the clock as the auto-advance mode says, before a status poll is answered."""
        mode = self._auto_advance
        if mode is None:
            return
        clock = self.workspace.clock
        if mode == SETTLE:
            if settles_at is not None:
                remaining = settles_at - clock.time()
                if remaining > 0:
                    clock.advance(remaining + 0.001)
        elif float(mode) > 0:
            clock.advance(float(mode))


def lifecycle(workspace: Workspace) -> Lifecycle:
    """The workspace's :class:`Lifecycle`, created on first use."""
    with workspace.lock:
        found = workspace.extensions.get("lifecycle")
        if found is None:
            found = workspace.extensions["lifecycle"] = Lifecycle(workspace)
        return found


def _matches(key: str, expected: Any, actual: Any) -> bool:
    if key == "contains":
        return isinstance(actual, str) and str(expected) in actual
    if actual is None:
        return False
    return str(expected) == str(actual)


def _check(value: str, allowed: tuple[str, ...], name: str) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {allowed}")


def _check_keys(match: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(match) - allowed
    if unknown:
        raise TypeError(f"cannot match on {sorted(unknown)}; use {sorted(allowed)}")


def _seconds(seconds: float | None) -> float | None:
    if seconds is not None and seconds < 0:
        raise ValueError(f"seconds={seconds!r}: durations are >= 0")
    return None if seconds is None else float(seconds)
