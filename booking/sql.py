"""Hand-written statements for the reads every API call or job submission makes.

Building and compiling a queryset costs 1–3 ms of Python per statement, ten times what the
database needs for these small reads (measured on ``POST /api/v1/jobs``: 13 statements,
40 ms). The few reads on that path are written here once in SQL that both backends run
(SQLite, the embedded default, and PostgreSQL), with the tables' and columns' names taken from
the models. Results are numbers and ids, never datetimes, so no per-column conversion is
needed; datetimes going in are prepared as the ORM prepares them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db import connection


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model, field: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field).column)


def at(value: dt.datetime):
    """A datetime as a statement parameter, as the ORM sends it (naive UTC text on SQLite)."""
    return connection.ops.adapt_datetimefield_value(value)


def seconds(expression: str) -> str:
    """SQL for the seconds since the epoch of a datetime column or parameter."""
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {expression})"
    # SQLite keeps datetimes as ISO text; julianday() reads it with its fraction of a second.
    return f"((julianday({expression}) - 2440587.5) * 86400.0)"


def least(a: str, b: str) -> str:
    return f"LEAST({a}, {b})" if connection.vendor == "postgresql" else f"MIN({a}, {b})"


def greatest(a: str, b: str) -> str:
    return f"GREATEST({a}, {b})" if connection.vendor == "postgresql" else f"MAX({a}, {b})"


def placeholders(values: Sequence) -> str:
    return ", ".join(["%s"] * len(values))


def one_row(sql: str, params: Iterable) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchone()


def all_rows(sql: str, params: Iterable) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def decimal(value) -> Decimal:
    """A sum as the database returns it (PostgreSQL: numeric; SQLite: int or float) as a
    Decimal; NULL (nothing summed) is 0."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def pk(value) -> int:
    """A model instance's id, or the id itself."""
    return getattr(value, "pk", value)


def columns_of(model, alias: str) -> tuple[str, list]:
    """The SELECT list of every concrete column of ``model`` under ``alias``, and its fields
    (for :func:`instance`)."""
    fields = list(model._meta.concrete_fields)
    quoted = connection.ops.quote_name
    return ", ".join(f"{quoted(alias)}.{quoted(f.column)}" for f in fields), fields


def instance(model, fields: list, values: Sequence, alias: str):
    """A model instance from ``values`` read in :func:`columns_of` order, converted as the ORM
    converts them (aware datetimes on SQLite, JSON, booleans); None when its id is NULL (an
    outer join that found nothing)."""
    converted = []
    for field, value in zip(fields, values, strict=True):
        if value is not None:
            col = field.get_col(alias)
            for converter in [
                *connection.ops.get_db_converters(col),
                *field.get_db_converters(connection),
            ]:
                value = converter(value, col, connection)
        converted.append(value)
    if converted[[f.primary_key for f in fields].index(True)] is None:
        return None
    return model.from_db(connection.alias, [f.attname for f in fields], converted)
