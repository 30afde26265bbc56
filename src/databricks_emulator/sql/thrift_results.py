"""Thrift result sets in the format the client negotiated: column tables, Arrow batches or cloud-fetch links.

``TExecuteStatementReq`` says what the client reads: ``canReadArrowResult`` (the connector sets it when
pyarrow is installed), ``useArrowNativeTypes`` (decimals, timestamps, complex types as Arrow types, each on by
default), ``canDecompressLZ4Result`` and ``canDownloadResult`` (``use_cloud_fetch``). :func:`negotiate` turns
that into a :class:`ThriftDelivery`, kept on the statement:

- no Arrow reader (or no pyarrow in the emulator): ``COLUMN_BASED_SET``, values as typed Thrift columns;
- Arrow: ``ARROW_BASED_SET``, ``arrowSchema`` in the metadata and ``TRowSet.arrowBatches``;
- Arrow, downloads allowed and more than ``cloud_fetch_min_bytes`` of Arrow data: ``URL_BASED_SET``, whose
  ``resultLinks`` point at result files on the emulator (:mod:`.links`), one file per ``chunk_rows`` rows.

Metadata calls (GetTables and the like) carry no such flags and answer in column tables, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from databricks.sql.thrift_api.TCLIService import ttypes

from . import arrow
from .arrow import ArrowOptions
from .delivery import ArrowResult, ResultSettings, chunk_bounds
from .engine import Column
from .links import ResultFiles

MAX_LINKS_PER_FETCH = 32
_TIMESTAMP_AS_STRING = "spark.thriftserver.arrowbasedrowset.timestampasstring"


@dataclass
class ThriftDelivery:
    """What one Thrift statement's client reads, and its Arrow form once built."""

    arrow_options: ArrowOptions | None
    lz4: bool
    can_download: bool
    result: ArrowResult | None = None
    by_link: bool = False

    @property
    def result_format(self) -> int:
        if self.result is None:
            return ttypes.TSparkRowSetType.COLUMN_BASED_SET
        return ttypes.TSparkRowSetType.URL_BASED_SET if self.by_link else ttypes.TSparkRowSetType.ARROW_BASED_SET


def negotiate(req: Any, time_zone: str) -> ThriftDelivery:
    """The delivery a ``TExecuteStatementReq`` asks for, given the session's time zone."""
    if not req.canReadArrowResult or not arrow.available():
        return ThriftDelivery(None, False, False)
    native = req.useArrowNativeTypes
    overlay = {str(key).lower(): str(value).lower() for key, value in (req.confOverlay or {}).items()}
    timestamps_as_string = overlay.get(_TIMESTAMP_AS_STRING) == "true"
    options = ArrowOptions(
        native_decimals=bool(native and native.decimalAsArrow),
        native_timestamps=bool(native and native.timestampAsArrow) and not timestamps_as_string,
        native_complex_types=bool(native and native.complexTypesAsArrow),
        time_zone=time_zone,
    )
    return ThriftDelivery(options, bool(req.canDecompressLZ4Result), bool(req.canDownloadResult))


def prepare(delivery: ThriftDelivery | None, statement: Any, settings: ResultSettings) -> ThriftDelivery | None:
    """Build the statement's Arrow form on first need and decide inline batches or links."""
    if delivery is None or delivery.arrow_options is None or statement.result is None:
        return delivery
    if delivery.result is None:
        delivery.result = ArrowResult(
            statement.result, delivery.arrow_options, lz4=delivery.lz4, chunk_rows=settings.chunk_rows
        )
        delivery.by_link = delivery.can_download and delivery.result.nbytes > settings.cloud_fetch_min_bytes
    return delivery


def metadata(
    delivery: ThriftDelivery | None, columns: Sequence[Column], schema_of: Callable[[Sequence[Column]], Any]
) -> Any:
    """The ``TGetResultSetMetadataResp`` for a result: Thrift schema, format, Arrow schema, compression."""
    response = ttypes.TGetResultSetMetadataResp(
        status=ttypes.TStatus(statusCode=ttypes.TStatusCode.SUCCESS_STATUS),
        schema=schema_of(columns),
        resultFormat=ttypes.TSparkRowSetType.COLUMN_BASED_SET,
        lz4Compressed=False,
        isStagingOperation=False,
    )
    if delivery is not None and delivery.result is not None:
        response.resultFormat = delivery.result_format
        response.arrowSchema = delivery.result.schema_bytes()
        response.lz4Compressed = delivery.lz4
    return response


def arrow_rows(delivery: ThriftDelivery, start: int, max_rows: int | None, files: ResultFiles) -> tuple[Any, int]:
    """The next rows from ``start`` as Arrow batches or links, and the row they end at."""
    result = delivery.result
    assert result is not None
    total = result.row_count
    if delivery.by_link:
        links, end = [], start
        for chunk_start, chunk_end in chunk_bounds(total - start, result.chunk_rows)[:MAX_LINKS_PER_FETCH]:
            if chunk_end == chunk_start:
                break
            body, size = result.file(start + chunk_start, start + chunk_end)
            link = files.publish(body)
            links.append(
                ttypes.TSparkArrowResultLink(
                    fileLink=link.url,
                    expiryTime=int(link.wall_expires_at),
                    startRowOffset=start + chunk_start,
                    rowCount=chunk_end - chunk_start,
                    bytesNum=size,
                    httpHeaders={},
                )
            )
            end = start + chunk_end
        return ttypes.TRowSet(startRowOffset=start, rows=[], resultLinks=links), end
    end = total if not max_rows or max_rows <= 0 else min(total, start + max_rows)
    batches = [
        ttypes.TSparkArrowBatch(batch=result.batch(start + first, start + last), rowCount=last - first)
        for first, last in chunk_bounds(end - start, result.chunk_rows)
        if last > first
    ]
    return ttypes.TRowSet(startRowOffset=start, rows=[], arrowBatches=batches), end
