"""Identifiers that look like the ones Databricks hands out for statements and SQL sessions."""

from __future__ import annotations

import secrets
import uuid

_VARIANTS = "89ab"


def new_statement_id() -> str:
    """A statement id shaped like Databricks' (a version-1 style UUID starting ``01f0``), unique per call."""
    digits = "01f0" + secrets.token_hex(14)
    variant = _VARIANTS[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-1{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def guid_of(identifier: str) -> bytes:
    """The 16 bytes Thrift handles carry for a statement or session id."""
    return uuid.UUID(identifier).bytes


def id_of_guid(guid: bytes) -> str:
    """The inverse of :func:`guid_of`: what the connector shows as ``cursor.query_id``."""
    return str(uuid.UUID(bytes=guid))
