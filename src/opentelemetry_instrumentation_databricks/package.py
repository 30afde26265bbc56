_instruments_sql = "databricks-sql-connector >= 4.0, < 5"
_instruments_sdk = "databricks-sdk >= 0.50, < 1"

_instruments: tuple[str, ...] = ()
_instruments_any = (_instruments_sql, _instruments_sdk)

_supports_metrics = True
