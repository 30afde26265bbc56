"""What a connector exception says, reduced to what may go on a span: an error class and a SQLSTATE.

The message itself is not recorded: Databricks messages quote the statement, literals included.
"""

from __future__ import annotations

import re

_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_]+)*)\]")
_SQLSTATE = re.compile(r"SQLSTATE:\s*([0-9A-Z]{5})")


def error_facts(error: BaseException) -> tuple[str, str | None]:
    """``(error.type, db.response.status_code)``: the Databricks error class (else the exception's class name)
    and the SQLSTATE when the server gave one."""
    context = getattr(error, "context", None)
    sql_state = None
    if isinstance(context, dict):
        sql_state = context.get("sql-state") or context.get("sqlState") or context.get("sql_state")
    message = str(error.args[0]) if error.args and isinstance(error.args[0], str) else ""
    if sql_state is None:
        found = _SQLSTATE.search(message)
        sql_state = found.group(1) if found else None
    found = _ERROR_CLASS.search(message)
    error_type = found.group(1) if found else type(error).__qualname__
    return error_type, str(sql_state) if sql_state else None
