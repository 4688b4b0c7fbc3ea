"""Ids from URLs and callers: plain positive integers, anything else answers 404."""

from __future__ import annotations

from booking.errors import NotFound

MAX_PK = 2**63 - 1


def plain_pk(pk, *, what: str) -> int:
    """An id from a URL or a caller: a positive integer in the database's range, written in
    plain digits (``int()`` alone would also take " 7" or "1_0"); else 404."""
    if isinstance(pk, str):
        if not pk.isascii() or not pk.isdigit():
            raise NotFound(what)
    try:
        value = int(pk)
    except (TypeError, ValueError):
        raise NotFound(what) from None
    if not 1 <= value <= MAX_PK:
        raise NotFound(what)
    return value
