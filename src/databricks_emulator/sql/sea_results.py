"""Statement Execution API results by disposition and format: inline JSON chunks, an inline Arrow attachment,
or external links to result files on the emulator.

- ``INLINE`` (``JSON_ARRAY`` only, as on Databricks): ``data_array`` chunks of ``chunk_rows`` rows, each naming the
  next (``next_chunk_index``, ``next_chunk_internal_link``, ``GET .../result/chunks/N``);
- ``EXTERNAL_LINKS`` (``JSON_ARRAY``, ``ARROW_STREAM`` or ``CSV``): every chunk is a result file behind an
  expiring link (:mod:`.links`) that needs no ``Authorization`` header; the statement answer carries chunk 0's
  link and ``GET .../result/chunks/N`` chunk N's, each naming the next. ``ARROW_STREAM`` files are Arrow IPC
  streams, LZ4-framed when ``result_compression`` is ``LZ4_FRAME``;
- ``INLINE_OR_EXTERNAL_LINKS``: results up to ``inline_limit_bytes`` come inline (``JSON_ARRAY`` as chunks,
  ``ARROW_STREAM`` as one base64 ``attachment``), larger ones by link.

Nothing is cut short: every row of the result is in some chunk, and the manifest counts them all.
"""

from __future__ import annotations

import base64
import csv
import functools
import io
import json
import zoneinfo
from dataclasses import dataclass
from typing import Any

from ..http import invalid
from . import arrow
from .arrow import ArrowOptions
from .datatypes import render_instant
from .delivery import ArrowResult, ResultSettings, chunk_bounds
from .engine import StatementResult
from .links import ResultFiles

DISPOSITIONS = frozenset({"INLINE", "EXTERNAL_LINKS", "INLINE_OR_EXTERNAL_LINKS"})
FORMATS = frozenset({"JSON_ARRAY", "ARROW_STREAM", "CSV"})
COMPRESSIONS = frozenset({"NONE", "LZ4_FRAME"})


@dataclass
class SeaDelivery:
    """What one Statement Execution request asked for, and, once resolved, how its result travels."""

    disposition: str
    format: str
    compression: str
    chunk_rows: int
    inline_limit_bytes: int
    time_zone: str
    by_link: bool | None = None
    arrow_result: ArrowResult | None = None

    @property
    def lz4(self) -> bool:
        return self.compression == "LZ4_FRAME" and self.format == "ARROW_STREAM"

    @property
    def attachment(self) -> bool:
        return self.by_link is False and self.format == "ARROW_STREAM"

    def resolve(self, result: StatementResult) -> SeaDelivery:
        """Decide inline or links (once) for ``result``."""
        if self.by_link is None:
            if self.format == "ARROW_STREAM":
                self.arrow_result = ArrowResult(
                    result, ArrowOptions(time_zone=self.time_zone), lz4=self.lz4, chunk_rows=self.chunk_rows
                )
            if self.disposition == "INLINE_OR_EXTERNAL_LINKS":
                self.by_link = _estimated_bytes(self, result) > self.inline_limit_bytes
            else:
                self.by_link = self.disposition == "EXTERNAL_LINKS"
        return self

    def bounds(self, row_count: int) -> list[tuple[int, int]]:
        """The chunks: one for an attachment (clients read it whole), else ``chunk_rows`` rows each."""
        if self.attachment:
            return [(0, row_count)]
        return chunk_bounds(row_count, self.chunk_rows)


def negotiate(body: dict[str, Any], settings: ResultSettings, time_zone: str) -> SeaDelivery:
    """The delivery a request body asks for; ``ApiError`` 400 naming the field for a bad combination."""
    disposition = str(body.get("disposition") or "INLINE").upper()
    result_format = str(body.get("format") or "JSON_ARRAY").upper()
    compression = str(body.get("result_compression") or "NONE").upper()
    if disposition not in DISPOSITIONS:
        raise invalid(f"Invalid disposition {disposition!r}: use one of {sorted(DISPOSITIONS)}.")
    if result_format not in FORMATS:
        raise invalid(f"Invalid format {result_format!r}: use one of {sorted(FORMATS)}.")
    if compression not in COMPRESSIONS:
        raise invalid(f"Invalid result_compression {compression!r}: use one of {sorted(COMPRESSIONS)}.")
    if disposition == "INLINE" and result_format != "JSON_ARRAY":
        raise invalid(
            f"The {result_format} format is not supported with the INLINE disposition: use JSON_ARRAY, or "
            "disposition EXTERNAL_LINKS."
        )
    if result_format == "ARROW_STREAM" and not arrow.available():
        raise invalid("The ARROW_STREAM format needs pyarrow in the emulator: pip install pyarrow.")
    if result_format == "CSV" and disposition != "EXTERNAL_LINKS":
        raise invalid("The CSV format is only supported with the EXTERNAL_LINKS disposition.")
    return SeaDelivery(
        disposition, result_format, compression, settings.chunk_rows, settings.inline_limit_bytes, time_zone
    )


def _estimated_bytes(delivery: SeaDelivery, result: StatementResult) -> int:
    if delivery.arrow_result is not None:
        return delivery.arrow_result.nbytes
    sample = result.rows[:1000]
    if not sample:
        return 0
    rendered = len(json.dumps(_rendered(result, sample, delivery.time_zone), separators=(",", ":")))
    return rendered * len(result.rows) // len(sample)


def _rendered(result: StatementResult, rows: list[tuple], time_zone: str) -> list[list[str | None]]:
    """Rows as JSON_ARRAY/CSV text; TIMESTAMP (local time zone) columns as instants in the session time zone."""
    zone = zoneinfo.ZoneInfo(time_zone)
    renderers = [
        functools.partial(render_instant, zone=zone)
        if column.sql_type.type_text == "TIMESTAMP"
        else column.sql_type.render
        for column in result.columns
    ]
    return [[render(value) for render, value in zip(renderers, row, strict=True)] for row in rows]


def manifest_fields(delivery: SeaDelivery) -> dict[str, Any]:
    """What the manifest says beyond the JSON defaults: the format and, when compressed, the compression."""
    fields: dict[str, Any] = {"format": delivery.format}
    if delivery.lz4:
        fields["result_compression"] = "LZ4_FRAME"
    return fields


def file_body(delivery: SeaDelivery, result: StatementResult, start: int, end: int) -> tuple[bytes, int]:
    """Rows ``start:end`` as a result file in the delivery's format, and its size before compression."""
    if delivery.arrow_result is not None:
        return delivery.arrow_result.file(start, end)
    rows = _rendered(result, result.rows[start:end], delivery.time_zone)
    if delivery.format == "CSV":
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows)
        body = text.getvalue().encode()
    else:
        body = json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode()
    return body, len(body)


def chunk_json(
    delivery: SeaDelivery, result: StatementResult, index: int, statement_path: str, files: ResultFiles
) -> dict[str, Any]:
    """Chunk ``index`` as the Statement Execution API answers it (the caller has checked the index)."""
    bounds = delivery.bounds(len(result.rows))
    start, end = bounds[index]
    chunk: dict[str, Any] = {"chunk_index": index, "row_offset": start, "row_count": end - start}
    if index + 1 < len(bounds):
        chunk["next_chunk_index"] = index + 1
        chunk["next_chunk_internal_link"] = f"{statement_path}/result/chunks/{index + 1}"
    if delivery.by_link:
        body, _ = file_body(delivery, result, start, end)
        link = files.publish(body)
        chunk.update(byte_count=link.byte_count, external_link=link.url, expiration=link.expiration_iso())
        chunk["http_headers"] = {}
        return {"external_links": [chunk]}
    if delivery.attachment:
        assert delivery.arrow_result is not None
        body, _ = delivery.arrow_result.file(start, end)
        chunk["attachment"] = base64.b64encode(body).decode()
        chunk["byte_count"] = len(body)
        return chunk
    chunk["data_array"] = _rendered(result, result.rows[start:end], delivery.time_zone)
    return chunk
