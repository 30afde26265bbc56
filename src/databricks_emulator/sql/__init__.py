"""The emulator's SQL warehouse: Databricks SQL on DuckDB behind both of the connector's wire protocols.

- :mod:`.thrift`: ``POST /sql/1.0/warehouses/{id}`` (the connector's default backend);
- :mod:`.statements`: ``/api/2.0/sql/statements`` and ``/api/2.0/sql/sessions`` (``use_sea=True`` and the SDK);
- :mod:`.service`: sessions, statements and their simulated timing, shared by both protocols;
- :mod:`.engine`: DuckDB execution (:mod:`.translate` via sqlglot, :mod:`.commands` for SHOW/SET/CATALOG DDL,
  :mod:`.metadata`, :mod:`.errors`, :mod:`.datatypes`, :mod:`.names` for the ``system`` -> ``__system`` mapping);
- :mod:`.history`: ``QueryRecord``, the bounded query history and the replaceable latency model.

From a test::

    with Emulator(clock=Clock(frozen=True)) as ws:
        with ws.sql_connect() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT 1", query_tags={"team": "data"})
            record = ws.query_history[-1]          # record.statement_id == cursor.query_id
        ws.sql.latency_model = my_model            # StatementProfile -> Durations
        ws.sql.pace = True                         # synchronous statements last their modelled duration
        ws.sql.engine.duckdb_cursor()              # raw DuckDB; catalog "system" is database "__system"
"""
