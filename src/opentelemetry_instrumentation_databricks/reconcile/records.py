"""The span-time id record: which trace and span stood for which billed unit, written when the span ends.

Databricks keeps no tag on the billing of serverless jobs and notebooks without a usage policy, of serverless
pipelines, or of single SQL statements (``system.billing.usage`` knows warehouses, not statements). So that the
reconciler can still put their billed cost into the right trace, :class:`SpanIdRecorder` (a span processor) appends
one compact JSON line per keyed span to a file of its own::

    {"k":"job_run","u":"1234","s":null,"t":"<trace hex>","p":"<span hex>","a":<start ns>,"b":<end ns>,
     "d":<estimated DBU>,"c":<estimated USD>,"x":"<compute type>",
     "o":{"j":"<dagster job>","r":"<run id>","n":"<op>","a":"<asset key>","q":"<partition>",
          "w":"<warehouse id>","c":"<cluster id>","i":"<job id>","g":{"team":"<user tag value>"}}}

``"o"`` is the span's orchestration context (only the fields it had; absent on spans without any, and in lines
written before it existed, which still load): the strongest source of a billing span's attribution
(:mod:`.attribution`). ``"g"`` holds the user tag keys the recorder was given (``tag_keys``), from the span's
``databricks.cluster.custom_tags``; values are cut at :data:`.attribution.MAX_VALUE_LENGTH` characters.

Usage::

    provider.add_span_processor(SpanIdRecorder("/Volumes/main/ops/otel_span_records", tag_keys=("team",)))
    ...
    records = SpanIdRecords.load("/Volumes/main/ops/otel_span_records", units={("job_run", "1234")})

Design, for several processes on several machines feeding one reconciler:

* one file per process and UTC day, ``spans-<YYYYMMDD>-<host>-<pid>.jsonl``, in a directory every writer and the
  reconciler can reach (a Unity Catalog volume, NFS, a synced bucket): no two processes ever write one file, so no
  locking is needed across machines;
* each record is ONE ``write()`` of one line on a line-buffered, append-only file: a crash loses at most the line
  being written, and a torn last line is skipped by the reader (counted in :attr:`SpanIdRecords.torn_lines`);
* the reader streams every file and keeps only the records of the units it is asked about, so its memory is
  bounded by the batch, not by the history; :func:`prune` deletes files older than a retention in days.

Limits: the directory must be shared (a local path on an ephemeral job cluster is lost with the cluster); records
are not deduplicated across files (a unit recorded twice keeps its latest span); nothing is written for spans a
sampler dropped; about 250 bytes per keyed span, i.e. ~250 MB per million spans until pruned.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from ..attributes import (
    CLUSTER_ID,
    COMPUTE_TYPE,
    COST_ESTIMATED_USD,
    DAGSTER_ASSET_KEY,
    DAGSTER_JOB_NAME,
    DAGSTER_OP_NAME,
    DAGSTER_PARTITION_KEY,
    DAGSTER_RUN_ID,
    DBU_ESTIMATED,
    JOB_ID,
    TAG_PREFIX,
    WAREHOUSE_ID,
)
from .attribution import MAX_TAG_KEYS, bounded, context_of_span, parse_tag_keys
from .keys import attributes_of, key_of

_logger = logging.getLogger(__name__)
_PREFIX = "spans-"
_CODES = {
    DAGSTER_JOB_NAME: "j",
    DAGSTER_RUN_ID: "r",
    DAGSTER_OP_NAME: "n",
    DAGSTER_ASSET_KEY: "a",
    DAGSTER_PARTITION_KEY: "q",
    WAREHOUSE_ID: "w",
    CLUSTER_ID: "c",
    JOB_ID: "i",
}
_NAMES = {code: name for name, code in _CODES.items()}


def _encode(context: dict[str, str]) -> dict[str, Any]:
    encoded: dict[str, Any] = {_CODES[name]: value for name, value in context.items() if name in _CODES}
    tags = {name[len(TAG_PREFIX) :]: value for name, value in context.items() if name.startswith(TAG_PREFIX)}
    if tags:
        encoded["g"] = tags
    return encoded


def _decode(encoded: Any) -> dict[str, str] | None:
    if not isinstance(encoded, dict):
        return None
    context = {_NAMES[code]: bounded(value) for code, value in encoded.items() if code in _NAMES and value}
    tags = encoded.get("g")
    if isinstance(tags, dict):
        for key, value in list(tags.items())[:MAX_TAG_KEYS]:
            if value:
                context[f"{TAG_PREFIX}{key}"] = bounded(value)
    return context or None


@dataclass(frozen=True, slots=True)
class SpanRecord:
    kind: str
    unit_id: str
    scope: str | None
    trace_id: int
    span_id: int
    start_ns: int
    end_ns: int
    estimated_dbu: float | None
    estimated_usd: float | None
    compute_type: str | None
    context: dict[str, str] | None = field(default=None, hash=False)
    """The span's orchestration context by attribute name (``dagster.job.name``, ``databricks.tag.team``...)."""

    @property
    def unit(self) -> tuple[str, str]:
        return self.kind, self.unit_id

    def to_line(self) -> str:
        line: dict[str, Any] = {
            "k": self.kind,
            "u": self.unit_id,
            "s": self.scope,
            "t": f"{self.trace_id:032x}",
            "p": f"{self.span_id:016x}",
            "a": self.start_ns,
            "b": self.end_ns,
            "d": self.estimated_dbu,
            "c": self.estimated_usd,
            "x": self.compute_type,
        }
        if self.context:
            line["o"] = _encode(self.context)
        return json.dumps(line, separators=(",", ":")) + "\n"

    @classmethod
    def from_line(cls, line: str) -> SpanRecord:
        data = json.loads(line)
        return cls(
            kind=str(data["k"]),
            unit_id=str(data["u"]),
            scope=data.get("s"),
            trace_id=int(data["t"], 16),
            span_id=int(data["p"], 16),
            start_ns=int(data["a"]),
            end_ns=int(data["b"]),
            estimated_dbu=data.get("d"),
            estimated_usd=data.get("c"),
            compute_type=data.get("x"),
            context=_decode(data.get("o")),
        )


def record_of(span: ReadableSpan, tag_keys: tuple[str, ...] = ()) -> SpanRecord | None:
    key = key_of(span)
    if key is None or span.context is None:
        return None
    attributes = attributes_of(span)
    dbu, usd = attributes.get(DBU_ESTIMATED), attributes.get(COST_ESTIMATED_USD)
    compute = attributes.get(COMPUTE_TYPE)
    return SpanRecord(
        key.kind,
        key.unit_id,
        key.scope,
        span.context.trace_id,
        span.context.span_id,
        key.window_start_ns,
        key.window_end_ns,
        float(dbu) if isinstance(dbu, (int, float)) else None,
        float(usd) if isinstance(usd, (int, float)) else None,
        str(compute) if compute is not None else None,
        context_of_span(attributes, tag_keys) or None,
    )


class SpanIdRecorder(SpanProcessor):
    """Appends a :class:`SpanRecord` for every keyed span that ends, to this process's file in ``directory``;
    ``tag_keys`` (e.g. ``("team", "cost_center")``, at most :data:`.attribution.MAX_TAG_KEYS`) are the user tags
    recorded from the span's cluster tags."""

    def __init__(self, directory: str | os.PathLike[str], tag_keys: tuple[str, ...] | str = ()) -> None:
        self.tag_keys = parse_tag_keys(tag_keys)
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.written = 0
        self.failures = 0
        self._lock = threading.Lock()
        self._file: Any = None
        self._day: str | None = None
        self._host = socket.gethostname().replace("-", "_")[:40] or "host"

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if COMPUTE_TYPE not in span._attributes._dict:
                return
        except AttributeError:
            if COMPUTE_TYPE not in attributes_of(span):
                return
        try:
            record = record_of(span, self.tag_keys)
            if record is None:
                return
            line = record.to_line()
            day = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d")
            with self._lock:
                if self._day != day or self._file is None:
                    self._open(day)
                self._file.write(line)
                self.written += 1
        except Exception:
            self.failures += 1
            if self.failures == 1:
                _logger.warning("could not record span ids in %s", self.directory, exc_info=True)

    def _open(self, day: str) -> None:
        if self._file is not None:
            self._file.close()
        path = self.directory / f"{_PREFIX}{day}-{self._host}-{os.getpid()}.jsonl"
        self._file = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        self._day = day

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        with self._lock:
            if self._file is not None:
                self._file.flush()
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class SpanIdRecords:
    """Records read back for a set of units: ``records.get(unit)`` -> the recorded spans of that unit."""

    def __init__(self) -> None:
        self.by_unit: dict[tuple[str, str], list[SpanRecord]] = {}
        self.torn_lines = 0

    @classmethod
    def load(cls, directory: str | os.PathLike[str], units: Collection[tuple[str, str]] | None = None) -> SpanIdRecords:
        """Every record of ``units`` (all records when ``None``) found in the files of ``directory``."""
        records = cls()
        for record in records._scan(Path(directory)):
            if units is None or record.unit in units:
                records.by_unit.setdefault(record.unit, []).append(record)
        return records

    def get(self, unit: tuple[str, str]) -> list[SpanRecord]:
        return self.by_unit.get(unit, [])

    def _scan(self, directory: Path) -> Iterator[SpanRecord]:
        if not directory.is_dir():
            return
        for path in sorted(directory.glob(f"{_PREFIX}*.jsonl")):
            with open(path, encoding="utf-8") as lines:
                for line in lines:
                    try:
                        yield SpanRecord.from_line(line)
                    except (ValueError, KeyError, TypeError):
                        self.torn_lines += 1


def iter_records(directory: str | os.PathLike[str]) -> Iterator[SpanRecord]:
    """Every record in ``directory``, file by file (torn lines skipped)."""
    yield from SpanIdRecords()._scan(Path(directory))


def prune(directory: str | os.PathLike[str], keep_days: int, today: dt.date | None = None) -> int:
    """Delete record files older than ``keep_days``; returns how many went."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    limit = (today - dt.timedelta(days=keep_days)).strftime("%Y%m%d")
    removed = 0
    for path in Path(directory).glob(f"{_PREFIX}*.jsonl"):
        day = path.name[len(_PREFIX) : len(_PREFIX) + 8]
        if day.isdigit() and day < limit:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
