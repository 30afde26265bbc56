"""Spark's lenient reading of date and timestamp strings, for casts DuckDB would refuse.

Spark accepts ``2021``, ``2021-9``, ``2021-09-30``, ``2021-09-30 11``, ``2021-09-30T11:27:35.123+04:00`` and more
where DuckDB wants the full ISO form. :func:`spark_date` and :func:`spark_timestamp` turn such text into the text
DuckDB casts the same way, or ``None`` when Spark itself finds it invalid (NULL, or an error in ANSI mode)::

    spark_date("2021-09")                    # '2021-09-01'
    spark_timestamp("2021-09-30 11")         # '2021-09-30 11:00:00'
    spark_timestamp("2021-09-30 11:27+04")   # '2021-09-30 11:27:00+04:00'
    spark_date("9999-99-31")                 # None
"""

from __future__ import annotations

import datetime
import re

_DATE = re.compile(r"([+-]?\d{4,6})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_TIME = re.compile(r"(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d{0,9}))?)?)?")
_OFFSET = re.compile(r"(?:Z|UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$|(Z|UTC|GMT|UT)$", re.IGNORECASE)
_ZONE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)+$")


def spark_date(text: str) -> str | None:
    """The ISO date Spark reads ``text`` as (``yyyy[-m[m][-d[d]]]``, then anything after ``' '`` or ``'T'``)."""
    text = text.strip()
    found = _DATE.match(text)
    if found is None:
        return None
    rest = text[found.end() :]
    if rest and not (found.group(3) is not None and rest[0] in " T"):
        return None
    return _iso_date(found)


def spark_timestamp(text: str) -> str | None:
    """The timestamp text (with its offset or zone, if it had one) Spark reads ``text`` as, or None."""
    text = text.strip()
    found = _DATE.match(text)
    if found is None:
        return None
    day = _iso_date(found)
    if day is None:
        return None
    rest = text[found.end() :]
    if not rest:
        return f"{day} 00:00:00"
    if found.group(3) is None or rest[0] not in " T":
        return None
    rest = rest[1:].strip()
    if not rest:
        return f"{day} 00:00:00"
    time = _TIME.match(rest)
    if time is None:
        return None
    hour, minute, second = (int(part) if part else 0 for part in time.group(1, 2, 3))
    if hour > 23 or minute > 59 or second > 59:
        return None
    fraction = (time.group(4) or "")[:6]
    clock = f"{hour:02d}:{minute:02d}:{second:02d}" + (f".{fraction}" if fraction else "")
    zone = _zone(rest[time.end() :].strip())
    if zone is None:
        return None
    return f"{day} {clock}{zone}"


def _iso_date(found: re.Match[str]) -> str | None:
    year = int(found.group(1))
    month = int(found.group(2) or 1)
    day = int(found.group(3) or 1)
    try:
        datetime.date(year, month, day)
    except ValueError:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _zone(text: str) -> str | None:
    if not text:
        return ""
    found = _OFFSET.match(text)
    if found is not None:
        if found.group(5):
            return "+00:00"
        sign, hours, minutes, seconds = found.group(1, 2, 3, 4)
        if int(hours) > 18 or int(minutes or 0) > 59:
            return None
        return f"{sign}{int(hours):02d}:{minutes or '00'}" + (f":{seconds}" if seconds else "")
    if _ZONE_ID.match(text):
        return f" {text}"
    return None
