"""The instrumentation on Arrow results (pyarrow installed, as the connector recommends), over both protocols."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pyarrow
import pytest
from databricks.sql.utils import ArrowQueue, ThriftCloudFetchQueue


def test_fetchall_arrow_returns_every_row_and_the_span_counts_them(instrument, connect, protocol):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id, CAST(id AS STRING) AS label FROM range(1234)")
        if protocol == "thrift":
            assert isinstance(cursor.active_result_set.results, ArrowQueue)
        table = cursor.fetchall_arrow()
    assert isinstance(table, pyarrow.Table)
    assert table.column("id").to_pylist() == list(range(1234))
    assert table.column("label").to_pylist()[-1] == "1233"
    (span,) = telemetry.spans()
    assert span.attributes["db.response.returned_rows"] == 1234


def test_fetchmany_arrow_then_fetchone_then_fetchall_arrow_continue_each_other(instrument, connect):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM range(100) ORDER BY id")
        first = cursor.fetchmany_arrow(10)
        row = cursor.fetchone()
        rest = cursor.fetchall_arrow()
    assert first.column(0).to_pylist() == list(range(10))
    assert row[0] == 10
    assert rest.column(0).to_pylist() == list(range(11, 100))
    (span,) = telemetry.spans()
    assert span.attributes["db.response.returned_rows"] == 100


def test_cloud_fetch_result_arrives_complete_and_the_span_counts_it(
    instrument, connect, protocol, emulator, monkeypatch
):
    monkeypatch.setattr(emulator.result_delivery, "cloud_fetch_min_bytes", 0)
    monkeypatch.setattr(emulator.result_delivery, "chunk_rows", 1000)
    downloads = emulator.result_files.downloads
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM range(5500)")
        if protocol == "thrift":
            assert isinstance(cursor.active_result_set.results, ThriftCloudFetchQueue)
        rows = cursor.fetchall()
    assert [row[0] for row in rows] == list(range(5500))
    assert emulator.result_files.downloads - downloads == 6
    (span,) = telemetry.spans()
    assert span.attributes["db.response.returned_rows"] == 5500


def test_decimals_timestamps_dates_and_complex_types_arrive_as_arrow_types(connect):
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT CAST(12.34 AS DECIMAL(10,2)) AS amount, CAST('2022-03-02 12:54:56' AS TIMESTAMP) AS at, "
            "DATE'2024-02-29' AS day, array(1, 2, 3) AS numbers, named_struct('foo', 42, 'bar', 'baz') AS pair, "
            "map('a', 1) AS counts"
        )
        table = cursor.fetchall_arrow()
    schema = table.schema
    assert schema.field("amount").type == pyarrow.decimal128(10, 2)
    assert schema.field("at").type == pyarrow.timestamp("us", tz="Etc/UTC")
    assert schema.field("day").type == pyarrow.date32()
    assert pyarrow.types.is_list(schema.field("numbers").type)
    assert pyarrow.types.is_integer(schema.field("numbers").type.value_type)
    assert pyarrow.types.is_struct(schema.field("pair").type)
    assert pyarrow.types.is_map(schema.field("counts").type)
    assert table.column("pair").to_pylist() == [{"foo": 42, "bar": "baz"}]


def test_complex_types_come_as_json_strings_when_the_client_asks(emulator):
    with (
        emulator.sql_connect(_use_arrow_native_complex_types=False) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT array(1, 2) AS numbers, named_struct('foo', 42) AS pair")
        row = cursor.fetchone()
    assert (row.numbers, row.pair) == ("[1,2]", '{"foo":42}')


@pytest.mark.parametrize("lz4", [True, False])
def test_result_compression_follows_the_client(connect, lz4):
    with connect(enable_query_result_lz4_compression=lz4) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT array(1, 2, 3, 4)")
        assert cursor.fetchall()[0][0].tolist() == [1, 2, 3, 4]
        assert cursor.active_result_set.lz4_compressed is lz4


_WITHOUT_PYARROW = """
import sys
if {block}:
    sys.modules["pyarrow"] = None
from databricks import sql
from databricks.sql.utils import ColumnQueue
with sql.connect(**{kwargs!r}) as connection, connection.cursor() as cursor:
    cursor.execute("SELECT id, CAST(id * 1.5 AS DECIMAL(10,1)) AS half FROM range(3)")
    print(type(cursor.active_result_set.results).__name__, [tuple(row) for row in cursor.fetchall()])
"""


@pytest.mark.subprocess
def test_a_client_without_pyarrow_gets_column_tables_and_one_with_it_no_warning(emulator):
    outputs = {}
    for block in (True, False):
        code = textwrap.dedent(_WITHOUT_PYARROW).format(block=block, kwargs=emulator.connect_kwargs())
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
        outputs[block] = done
    assert outputs[True].stdout.startswith("ColumnQueue ")
    assert "(2, Decimal('3.0'))" in outputs[True].stdout
    assert "pyarrow is not installed" in outputs[True].stderr
    assert outputs[False].stdout.startswith("ArrowQueue ")
    assert "(2, Decimal('3.0'))" in outputs[False].stdout
    assert "pyarrow is not installed" not in outputs[False].stderr
