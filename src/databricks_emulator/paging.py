"""Token paging for list endpoints: the token is the offset of the next page, opaque to clients."""

from __future__ import annotations

import base64
from typing import Any

from .http import invalid


def page(items: list[Any], *, key: str, size: int, token: str | None = None) -> dict[str, Any]:
    """One page of ``items`` under ``key``, with ``next_page_token``/``prev_page_token`` when there are more."""
    start = _offset(token)
    size = max(1, size)
    body: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        body["next_page_token"] = _token(start + size)
    if start > 0:
        body["prev_page_token"] = _token(max(0, start - size))
    return body


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "offset":
            raise ValueError(text)
        return max(0, int(number))
    except ValueError:
        raise invalid(f"Invalid page token: {token!r}") from None
