"""What an SDK exception says, reduced to ``error.type`` and an HTTP status code."""

from __future__ import annotations

from collections.abc import Mapping


def status_codes_of_errors() -> dict[type, int]:
    """The SDK's exception classes by HTTP status (``NotFound`` -> 404...), inverted; imported at install only."""
    try:
        from databricks.sdk.errors import platform
    except ImportError:
        return {}
    mapping = getattr(platform, "STATUS_CODE_MAPPING", {})
    return {cls: code for code, cls in mapping.items()}


def error_facts(error: BaseException, status_codes: Mapping[type, int]) -> tuple[str, int | None]:
    """``(error.type, http.response.status_code)``: the Databricks ``error_code`` (else the class name) and the
    status its class stands for. The message is not recorded: it can quote user data."""
    error_code = getattr(error, "error_code", None)
    error_type = str(error_code) if error_code else type(error).__qualname__
    for cls in type(error).__mro__:
        status = status_codes.get(cls)
        if status is not None:
            return error_type, status
    return error_type, None
