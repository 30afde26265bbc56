"""Catalog names: Databricks' public names and the private DuckDB database names that hold them.

DuckDB reserves ``main``, ``system`` and ``temp`` as database names, so every Databricks catalog lives in a
DuckDB database named with a private prefix; DuckDB's own databases never carry it and stay invisible.
"""

from __future__ import annotations

import re

PRIVATE_PREFIX = "__"
_PRIVATE_NAME = re.compile(r"(?<![\w$])" + PRIVATE_PREFIX + r"(\w)")


def private_catalog(name: str) -> str:
    """The DuckDB database that holds Databricks catalog ``name`` (catalog names are case-insensitive)."""
    return PRIVATE_PREFIX + name.lower()


def public_catalog(database: str) -> str | None:
    """The Databricks catalog a DuckDB database holds, or None for DuckDB's own databases."""
    if database.startswith(PRIVATE_PREFIX) and len(database) > len(PRIVATE_PREFIX):
        return database[len(PRIVATE_PREFIX) :]
    return None


def quote(identifier: str) -> str:
    """A DuckDB-quoted identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def backticked(*parts: str) -> str:
    """A Databricks-quoted, dot-joined name as error messages show it: ```main`.`default`.`t```."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in parts)


def public_text(text: str) -> str:
    """``text`` (a DuckDB message or name) with private database names turned back into catalog names."""
    if PRIVATE_PREFIX not in text:
        return text
    return _PRIVATE_NAME.sub(r"\1", text)
