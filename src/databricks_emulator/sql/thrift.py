"""The SQL warehouse's Thrift endpoint: ``POST /sql/1.0/warehouses/{id}``, as the connector's default backend
talks to it.

Requests are decoded with the connector's own ``TCLIService.Processor`` (binary protocol over a memory
buffer). A normal ``cursor.execute`` is one round trip: the answer carries direct results (status, metadata,
the first rows) and, when every row fits, closes the operation server-side. A request without direct results
(``execute_async``) is asynchronous: it stays RUNNING until the emulator clock reaches the statement's simulated
end. A stopped warehouse starts at once on its first request. Results travel in the format the client
negotiated (:mod:`.thrift_results`): Arrow batches or cloud-fetch links for a client with pyarrow,
``COLUMN_BASED_SET`` otherwise. SQL failures come back as ``ERROR_STATE`` with the Databricks message, which the
connector raises as ``ServerOperationError``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
from databricks.sql.thrift_api.TCLIService import TCLIService, ttypes
from thrift.protocol import TBinaryProtocol
from thrift.transport import TTransport

from ..http import ApiError, HttpApp, Request, Response
from ..workspace import Workspace
from . import arrow, datatypes, errors, metadata, querytags, thrift_results
from .delivery import ResultSettings
from .engine import Column, StatementResult
from .ids import guid_of, id_of_guid, new_statement_id
from .links import ResultFiles
from .parameters import from_thrift
from .service import SqlService, SqlSession, Statement

PROTOCOL_VERSION = ttypes.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V8
_SUCCESS = ttypes.TStatus(statusCode=ttypes.TStatusCode.SUCCESS_STATUS)
_STATES = {
    "PENDING": ttypes.TOperationState.PENDING_STATE,
    "RUNNING": ttypes.TOperationState.RUNNING_STATE,
    "SUCCEEDED": ttypes.TOperationState.FINISHED_STATE,
    "FAILED": ttypes.TOperationState.ERROR_STATE,
    "CANCELED": ttypes.TOperationState.CANCELED_STATE,
    "CLOSED": ttypes.TOperationState.CLOSED_STATE,
}
_COLUMN_CLASSES = {
    "boolVal": ("boolVal", ttypes.TBoolColumn, False),
    "byteVal": ("byteVal", ttypes.TByteColumn, 0),
    "i16Val": ("i16Val", ttypes.TI16Column, 0),
    "i32Val": ("i32Val", ttypes.TI32Column, 0),
    "i64Val": ("i64Val", ttypes.TI64Column, 0),
    "doubleVal": ("doubleVal", ttypes.TDoubleColumn, 0.0),
    "stringVal": ("stringVal", ttypes.TStringColumn, ""),
    "binaryVal": ("binaryVal", ttypes.TBinaryColumn, b""),
}
_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "boolVal": bool,
    "byteVal": int,
    "i16Val": int,
    "i32Val": int,
    "i64Val": int,
    "doubleVal": float,
    "binaryVal": bytes,
}
_INFO = {
    ttypes.TGetInfoType.CLI_SERVER_NAME: "Databricks SQL",
    ttypes.TGetInfoType.CLI_DBMS_NAME: "Spark SQL",
    ttypes.TGetInfoType.CLI_DBMS_VER: "3.5.0",
    ttypes.TGetInfoType.CLI_IDENTIFIER_QUOTE_CHAR: "`",
    ttypes.TGetInfoType.CLI_CATALOG_NAME: "Y",
    ttypes.TGetInfoType.CLI_SEARCH_PATTERN_ESCAPE: "\\",
}


def _protocol(transport: TTransport.TMemoryBuffer) -> TBinaryProtocol.TBinaryProtocol:
    try:
        return TBinaryProtocol.TBinaryProtocolAccelerated(transport)
    except Exception:  # no C extension: the pure-Python protocol speaks the same bytes
        return TBinaryProtocol.TBinaryProtocol(transport)


def _error_status(message: str, sqlstate: str | None = None, code: int = ttypes.TStatusCode.ERROR_STATUS) -> Any:
    return ttypes.TStatus(statusCode=code, errorMessage=message, displayMessage=message, sqlState=sqlstate)


def _invalid_handle(what: str) -> Any:
    return _error_status(f"Invalid {what}", code=ttypes.TStatusCode.INVALID_HANDLE_STATUS)


def _handle_id() -> Any:
    return ttypes.THandleIdentifier(guid=b"", secret=secrets.token_bytes(16))


def _strings(*names: str) -> list[Column]:
    return [Column(name, datatypes.STRING) for name in names]


def _ints(*names: str) -> list[Column]:
    return [Column(name, datatypes.INT) for name in names]


def table_schema(columns: Sequence[Column]) -> Any:
    """The Thrift ``TTableSchema`` for result columns (decimals carry precision and scale)."""
    descriptions = []
    for position, column in enumerate(columns, start=1):
        sql_type = column.sql_type
        qualifiers = None
        if sql_type.thrift_type == datatypes.DECIMAL_TYPE:
            qualifiers = ttypes.TTypeQualifiers(
                qualifiers={
                    "precision": ttypes.TTypeQualifierValue(i32Value=sql_type.precision),
                    "scale": ttypes.TTypeQualifierValue(i32Value=sql_type.scale),
                }
            )
        entry = ttypes.TTypeEntry(
            primitiveEntry=ttypes.TPrimitiveTypeEntry(type=sql_type.thrift_type, typeQualifiers=qualifiers)
        )
        descriptions.append(
            ttypes.TColumnDesc(columnName=column.name, typeDesc=ttypes.TTypeDesc(types=[entry]), position=position)
        )
    return ttypes.TTableSchema(columns=descriptions)


def row_set(columns: Sequence[Column], rows: Sequence[tuple], start: int) -> Any:
    """A ``COLUMN_BASED_SET`` row set: one typed Thrift column per result column, nulls as a bitmap."""
    thrift_columns = []
    for index, column in enumerate(columns):
        field, column_class, filler = _COLUMN_CLASSES[column.sql_type.thrift_field]
        nulls = bytearray((len(rows) + 7) // 8)
        values = []
        convert = _CONVERTERS.get(field) or column.sql_type.render
        for position, row in enumerate(rows):
            value = row[index]
            if value is None:
                nulls[position >> 3] |= 1 << (position & 7)
                values.append(filler)
            else:
                values.append(convert(value))
        thrift_columns.append(ttypes.TColumn(**{field: column_class(values=values, nulls=bytes(nulls))}))
    return ttypes.TRowSet(startRowOffset=start, rows=[], columns=thrift_columns)


class ThriftHandler:
    """The ``TCLIService`` interface, answered from a :class:`SqlService`."""

    def __init__(self, service: SqlService, workspace: Workspace) -> None:
        self.service = service
        self.workspace = workspace
        self._request = threading.local()

    def bind_request(self, warehouse_id: str, user_agent: str | None) -> None:
        """Remember which warehouse and client the current thread's request is for."""
        self._request.warehouse_id = warehouse_id
        self._request.user_agent = user_agent

    # sessions
    def OpenSession(self, req: Any) -> Any:
        namespace = req.initialNamespace
        session_id = new_statement_id()
        try:
            session = self.service.open_session(
                session_id=session_id,
                warehouse_id=self._request.warehouse_id,
                protocol="thrift",
                catalog=namespace.catalogName if namespace else None,
                schema=namespace.schemaName if namespace else None,
                configuration=req.configuration,
                user_agent=self._request.user_agent,
            )
        except errors.SqlError as error:
            return ttypes.TOpenSessionResp(
                status=_error_status(error.message, error.sqlstate), serverProtocolVersion=PROTOCOL_VERSION
            )
        handle = ttypes.TSessionHandle(
            sessionId=ttypes.THandleIdentifier(guid=guid_of(session.id), secret=secrets.token_bytes(16)),
            serverProtocolVersion=PROTOCOL_VERSION,
        )
        return ttypes.TOpenSessionResp(
            status=_SUCCESS,
            serverProtocolVersion=PROTOCOL_VERSION,
            sessionHandle=handle,
            configuration={},
            initialNamespace=ttypes.TNamespace(catalogName=session.catalog, schemaName=session.schema),
            canUseMultipleCatalogs=True,
        )

    def CloseSession(self, req: Any) -> Any:
        self.service.close_session(id_of_guid(req.sessionHandle.sessionId.guid))
        return ttypes.TCloseSessionResp(status=_SUCCESS)

    def _session(self, handle: Any) -> SqlSession | None:
        if handle is None or handle.sessionId is None:
            return None
        return self.service.session(id_of_guid(handle.sessionId.guid))

    def GetInfo(self, req: Any) -> Any:
        if self._session(req.sessionHandle) is None:
            return ttypes.TGetInfoResp(status=_invalid_handle("SessionHandle"))
        return ttypes.TGetInfoResp(
            status=_SUCCESS, infoValue=ttypes.TGetInfoValue(stringValue=_INFO.get(req.infoType, ""))
        )

    # statements
    def ExecuteStatement(self, req: Any) -> Any:
        session = self._session(req.sessionHandle)
        if session is None:
            return ttypes.TExecuteStatementResp(status=_invalid_handle("SessionHandle"))
        overlay = req.confOverlay or {}
        tags_text = next((value for key, value in overlay.items() if key.lower() == "query_tags"), None)
        try:
            parameters = [from_thrift(parameter) for parameter in req.parameters or ()]
        except errors.SqlError as error:
            return ttypes.TExecuteStatementResp(status=_error_status(error.message, error.sqlstate))
        time_zone = arrow.session_time_zone(session.engine_session.conf, session.configuration)
        delivery = thrift_results.negotiate(req, time_zone)
        statement = self.service.execute(
            session,
            req.statement or "",
            parameters=parameters,
            statement_tags=querytags.parse_serialized(tags_text),
            row_limit=req.resultRowLimit or None,
            asynchronous=bool(req.runAsync) and req.getDirectResults is None,
        )
        statement.delivery = delivery
        return self._operation(ttypes.TExecuteStatementResp, statement, req.getDirectResults)

    def _operation(self, response_class: type, statement: Statement, direct: Any) -> Any:
        result = statement.result
        handle = ttypes.TOperationHandle(
            operationId=ttypes.THandleIdentifier(guid=guid_of(statement.id), secret=secrets.token_bytes(16)),
            operationType=ttypes.TOperationType.EXECUTE_STATEMENT,
            hasResultSet=bool(result is not None and result.columns),
            modifiedRowCount=float(result.modified_rows) if result is not None and result.modified_rows else None,
        )
        response = response_class(status=_SUCCESS, operationHandle=handle)
        if direct is not None:
            response.directResults = self._direct_results(statement, direct.maxRows)
        return response

    def _direct_results(self, statement: Statement, max_rows: int | None) -> Any:
        status = self._status(statement)
        if statement.result is None:
            if not statement.running(self.service.clock.time()):
                self.service.close(statement)
            return ttypes.TSparkDirectResults(operationStatus=status)
        metadata_response = self._metadata(statement)
        rows, has_more = self._next_rows(statement, max_rows)
        fetched = ttypes.TFetchResultsResp(status=_SUCCESS, hasMoreRows=has_more, results=rows)
        closed = None
        if not has_more:
            self.service.close(statement)
            closed = ttypes.TCloseOperationResp(status=_SUCCESS)
        return ttypes.TSparkDirectResults(
            operationStatus=status, resultSetMetadata=metadata_response, resultSet=fetched, closeOperation=closed
        )

    def _status(self, statement: Statement) -> Any:
        state = statement.state(self.service.clock.time())
        response = ttypes.TGetOperationStatusResp(
            status=_SUCCESS,
            operationState=_STATES[state],
            operationStarted=int(statement.started * 1000),
            hasResultSet=statement.result is not None and bool(statement.result.columns),
        )
        if state == "SUCCEEDED":
            response.operationCompleted = int(statement.finishes * 1000)
            if statement.result is not None:
                response.numModifiedRows = statement.result.modified_rows
        elif state == "FAILED" and statement.error is not None:
            error = statement.error
            response.sqlState = error.sqlstate
            response.errorCode = 0
            response.errorMessage = error.message
            response.displayMessage = error.message
            response.operationCompleted = int(statement.finishes * 1000)
        return response

    def _metadata(self, statement: Statement) -> Any:
        result = statement.result
        assert result is not None
        delivery = thrift_results.prepare(statement.delivery, statement, ResultSettings.of(self.workspace))
        return thrift_results.metadata(delivery, result.columns, table_schema)

    def _next_rows(self, statement: Statement, max_rows: int | None) -> tuple[Any, bool]:
        result = statement.result
        assert result is not None
        start = statement.position
        delivery = thrift_results.prepare(statement.delivery, statement, ResultSettings.of(self.workspace))
        if delivery is not None and delivery.result is not None:
            rows, end = thrift_results.arrow_rows(delivery, start, max_rows, ResultFiles.of(self.workspace))
            statement.position = end
            return rows, end < len(result.rows)
        end = len(result.rows) if not max_rows or max_rows <= 0 else min(len(result.rows), start + max_rows)
        statement.position = end
        return row_set(result.columns, result.rows[start:end], start), end < len(result.rows)

    def _statement(self, handle: Any) -> Statement | None:
        if handle is None or handle.operationId is None:
            return None
        return self.service.statement(id_of_guid(handle.operationId.guid))

    def GetOperationStatus(self, req: Any) -> Any:
        statement = self._statement(req.operationHandle)
        if statement is None:
            return ttypes.TGetOperationStatusResp(status=_invalid_handle("OperationHandle"))
        statement.wait(self.service.status_wait)
        return self._status(statement)

    def GetResultSetMetadata(self, req: Any) -> Any:
        statement = self._statement(req.operationHandle)
        if statement is None or statement.result is None:
            return ttypes.TGetResultSetMetadataResp(status=_invalid_handle("OperationHandle"))
        return self._metadata(statement)

    def FetchResults(self, req: Any) -> Any:
        statement = self._statement(req.operationHandle)
        if statement is None or statement.result is None:
            return ttypes.TFetchResultsResp(status=_invalid_handle("OperationHandle"))
        if statement.running(self.service.clock.time()):
            return ttypes.TFetchResultsResp(status=_error_status("The operation has not finished yet."))
        if req.orientation == ttypes.TFetchOrientation.FETCH_FIRST:
            statement.position = 0
        rows, has_more = self._next_rows(statement, req.maxRows)
        response = ttypes.TFetchResultsResp(status=_SUCCESS, hasMoreRows=has_more, results=rows)
        if req.includeResultSetMetadata:
            response.resultSetMetadata = self._metadata(statement)
        return response

    def CancelOperation(self, req: Any) -> Any:
        statement = self._statement(req.operationHandle)
        if statement is not None:
            self.service.cancel(statement)
        return ttypes.TCancelOperationResp(status=_SUCCESS)

    def CloseOperation(self, req: Any) -> Any:
        statement = self._statement(req.operationHandle)
        if statement is not None:
            self.service.close(statement)
        return ttypes.TCloseOperationResp(status=_SUCCESS)

    # metadata calls
    def _metadata_call(self, req: Any, response_class: type, description: str, producer: Callable) -> Any:
        session = self._session(req.sessionHandle)
        if session is None:
            return response_class(status=_invalid_handle("SessionHandle"))
        statement = self.service.run_metadata(session, description, producer)
        return self._operation(response_class, statement, req.getDirectResults or ttypes.TSparkGetDirectResults())

    def GetCatalogs(self, req: Any) -> Any:
        def produce(cursor: duckdb.DuckDBPyConnection) -> StatementResult:
            return StatementResult(_strings("TABLE_CAT"), [(name,) for name in metadata.catalogs(cursor)], "METADATA")

        return self._metadata_call(req, ttypes.TGetCatalogsResp, "GetCatalogs()", produce)

    def GetSchemas(self, req: Any) -> Any:
        def produce(cursor: duckdb.DuckDBPyConnection) -> StatementResult:
            rows = [
                (schema, catalog)
                for catalog, schema in metadata.schemas(cursor)
                if metadata.matches(req.catalogName, catalog) and metadata.matches(req.schemaName, schema)
            ]
            return StatementResult(_strings("TABLE_SCHEM", "TABLE_CATALOG"), rows, "METADATA")

        description = f"GetSchemas(catalog={req.catalogName!r}, schema={req.schemaName!r})"
        return self._metadata_call(req, ttypes.TGetSchemasResp, description, produce)

    def GetTables(self, req: Any) -> Any:
        wanted = {kind.upper() for kind in req.tableTypes or ()}

        def produce(cursor: duckdb.DuckDBPyConnection) -> StatementResult:
            rows = [
                (
                    info.catalog,
                    info.schema,
                    info.name,
                    info.table_type,
                    info.comment or "",
                    None,
                    None,
                    None,
                    None,
                    None,
                )
                for info in metadata.tables(cursor)
                if metadata.matches(req.catalogName, info.catalog)
                and metadata.matches(req.schemaName, info.schema)
                and metadata.matches(req.tableName, info.name)
                and (not wanted or info.table_type in wanted)
            ]
            columns = _strings(
                "TABLE_CAT",
                "TABLE_SCHEM",
                "TABLE_NAME",
                "TABLE_TYPE",
                "REMARKS",
                "TYPE_CAT",
                "TYPE_SCHEM",
                "TYPE_NAME",
                "SELF_REFERENCING_COL_NAME",
                "REF_GENERATION",
            )
            return StatementResult(columns, rows, "METADATA")

        description = (
            f"GetTables(catalog={req.catalogName!r}, schema={req.schemaName!r}, table={req.tableName!r}, "
            f"types={req.tableTypes!r})"
        )
        return self._metadata_call(req, ttypes.TGetTablesResp, description, produce)

    def GetColumns(self, req: Any) -> Any:
        def produce(cursor: duckdb.DuckDBPyConnection) -> StatementResult:
            rows = [
                _jdbc_column_row(column)
                for column in metadata.columns(cursor)
                if metadata.matches(req.catalogName, column.catalog)
                and metadata.matches(req.schemaName, column.schema)
                and metadata.matches(req.tableName, column.table)
                and metadata.matches(req.columnName, column.name)
            ]
            return StatementResult(list(_JDBC_COLUMN_COLUMNS), rows, "METADATA")

        description = (
            f"GetColumns(catalog={req.catalogName!r}, schema={req.schemaName!r}, table={req.tableName!r}, "
            f"column={req.columnName!r})"
        )
        return self._metadata_call(req, ttypes.TGetColumnsResp, description, produce)

    def GetTableTypes(self, req: Any) -> Any:
        def produce(cursor: duckdb.DuckDBPyConnection) -> StatementResult:
            return StatementResult(_strings("TABLE_TYPE"), [("TABLE",), ("VIEW",)], "METADATA")

        return self._metadata_call(req, ttypes.TGetTableTypesResp, "GetTableTypes()", produce)

    def GetTypeInfo(self, req: Any) -> Any:
        def produce(cursor: duckdb.DuckDBPyConnection) -> StatementResult:
            return StatementResult(list(_TYPE_INFO_COLUMNS), _type_info_rows(), "METADATA")

        return self._metadata_call(req, ttypes.TGetTypeInfoResp, "GetTypeInfo()", produce)

    def GetFunctions(self, req: Any) -> Any:
        columns = _strings("FUNCTION_CAT", "FUNCTION_SCHEM", "FUNCTION_NAME", "REMARKS") + _ints("FUNCTION_TYPE")
        columns += _strings("SPECIFIC_NAME")
        return self._metadata_call(
            req, ttypes.TGetFunctionsResp, "GetFunctions()", lambda cursor: StatementResult(columns, [], "METADATA")
        )

    def GetPrimaryKeys(self, req: Any) -> Any:
        columns = _strings("TABLE_CAT", "TABLE_SCHEM", "TABLE_NAME", "COLUMN_NAME") + _ints("KEY_SEQ")
        columns += _strings("PK_NAME")
        return self._metadata_call(
            req, ttypes.TGetPrimaryKeysResp, "GetPrimaryKeys()", lambda cursor: StatementResult(columns, [], "METADATA")
        )

    def GetCrossReference(self, req: Any) -> Any:
        columns = _strings("PKTABLE_CAT", "PKTABLE_SCHEM", "PKTABLE_NAME", "PKCOLUMN_NAME")
        columns += _strings("FKTABLE_CAT", "FKTABLE_SCHEM", "FKTABLE_NAME", "FKCOLUMN_NAME") + _ints("KEY_SEQ")
        return self._metadata_call(
            req,
            ttypes.TGetCrossReferenceResp,
            "GetCrossReference()",
            lambda cursor: StatementResult(columns, [], "METADATA"),
        )

    # delegation tokens do not exist on SQL warehouses
    def GetDelegationToken(self, req: Any) -> Any:
        return ttypes.TGetDelegationTokenResp(status=_error_status("Delegation tokens are not supported."))

    def CancelDelegationToken(self, req: Any) -> Any:
        return ttypes.TCancelDelegationTokenResp(status=_error_status("Delegation tokens are not supported."))

    def RenewDelegationToken(self, req: Any) -> Any:
        return ttypes.TRenewDelegationTokenResp(status=_error_status("Delegation tokens are not supported."))


_JDBC_COLUMN_COLUMNS = [
    *_strings("TABLE_CAT", "TABLE_SCHEM", "TABLE_NAME", "COLUMN_NAME"),
    Column("DATA_TYPE", datatypes.INT),
    Column("TYPE_NAME", datatypes.STRING),
    Column("COLUMN_SIZE", datatypes.INT),
    Column("BUFFER_LENGTH", datatypes.of_duckdb("TINYINT")),
    *_ints("DECIMAL_DIGITS", "NUM_PREC_RADIX", "NULLABLE"),
    *_strings("REMARKS", "COLUMN_DEF"),
    *_ints("SQL_DATA_TYPE", "SQL_DATETIME_SUB", "CHAR_OCTET_LENGTH", "ORDINAL_POSITION"),
    *_strings("IS_NULLABLE", "SCOPE_CATALOG", "SCOPE_SCHEMA", "SCOPE_TABLE"),
    Column("SOURCE_DATA_TYPE", datatypes.of_duckdb("SMALLINT")),
    Column("IS_AUTO_INCREMENT", datatypes.STRING),
]

_TYPE_INFO_COLUMNS = [
    Column("TYPE_NAME", datatypes.STRING),
    *_ints("DATA_TYPE", "PRECISION"),
    *_strings("LITERAL_PREFIX", "LITERAL_SUFFIX", "CREATE_PARAMS"),
    Column("NULLABLE", datatypes.INT),
    Column("CASE_SENSITIVE", datatypes.BOOLEAN),
    Column("SEARCHABLE", datatypes.INT),
    Column("UNSIGNED_ATTRIBUTE", datatypes.BOOLEAN),
    Column("FIXED_PREC_SCALE", datatypes.BOOLEAN),
    Column("AUTO_INCREMENT", datatypes.BOOLEAN),
    Column("LOCAL_TYPE_NAME", datatypes.STRING),
    *_ints("MINIMUM_SCALE", "MAXIMUM_SCALE", "SQL_DATA_TYPE", "SQL_DATETIME_SUB", "NUM_PREC_RADIX"),
]

_TYPE_INFO = (
    ("BOOLEAN", 16, None),
    ("TINYINT", -6, 3),
    ("SMALLINT", 5, 5),
    ("INT", 4, 10),
    ("BIGINT", -5, 19),
    ("FLOAT", 6, 7),
    ("DOUBLE", 8, 15),
    ("DECIMAL", 3, 38),
    ("STRING", 12, None),
    ("BINARY", -2, None),
    ("DATE", 91, None),
    ("TIMESTAMP", 93, None),
    ("TIMESTAMP_NTZ", 93, None),
    ("ARRAY", 2003, None),
    ("MAP", 2000, None),
    ("STRUCT", 2002, None),
)


def _type_info_rows() -> list[tuple]:
    rows = []
    for name, jdbc_type, precision in _TYPE_INFO:
        quoted = "'" if name in ("STRING", "DATE", "TIMESTAMP", "TIMESTAMP_NTZ") else None
        numeric = precision is not None
        maximum_scale = 38 if name == "DECIMAL" else 0
        radix = 10 if numeric else None
        flags = (name == "STRING", 3, not numeric, False, False)
        rows.append(
            (name, jdbc_type, precision, quoted, quoted, None, 1, *flags, None, 0, maximum_scale, None, None, radix)
        )
    return rows


def _jdbc_column_row(column: metadata.ColumnInfo) -> tuple:
    sql_type = column.sql_type
    size, digits, radix = metadata.jdbc_sizes(sql_type)
    return (
        column.catalog,
        column.schema,
        column.table,
        column.name,
        sql_type.jdbc_type(),
        sql_type.type_text,
        size,
        None,
        digits,
        radix,
        1 if column.nullable else 0,
        column.comment or "",
        None,
        None,
        None,
        None,
        column.position,
        "YES" if column.nullable else "NO",
        None,
        None,
        None,
        None,
        "NO",
    )


def register(app: HttpApp, workspace: Workspace) -> None:
    """Serve the Thrift protocol on every warehouse's http_path."""
    service = SqlService.of(workspace)
    handler = ThriftHandler(service, workspace)
    processor = TCLIService.Processor(handler)

    def handle(request: Request) -> Response:
        warehouse_id = request.params["warehouse_id"]
        warehouse = workspace.warehouses.get(warehouse_id)
        if warehouse is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"SQL warehouse {warehouse_id} does not exist.")
        if warehouse.state != "RUNNING":
            warehouse.state = "RUNNING"
        handler.bind_request(warehouse_id, request.headers.get("user-agent"))
        output = TTransport.TMemoryBuffer()
        processor.process(_protocol(TTransport.TMemoryBuffer(request.body)), _protocol(output))
        return Response(body=output.getvalue(), content_type="application/x-thrift")

    app.router.add("POST", "/sql/1.0/warehouses/{warehouse_id}", handle)
    app.router.add("POST", "/sql/1.0/endpoints/{warehouse_id}", handle)
