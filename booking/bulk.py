"""Plain INSERTs for sweeps that write thousands of rows at once.

``bulk_create`` builds a model instance and prepares every field of every row, which costs
more than the database's own work at sweep sizes; here values are prepared once per column
with the field's own ``get_db_prep_save`` and sent in one ``executemany``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db import connection, models


def insert_rows(model, field_names: Sequence[str], rows: Iterable[Sequence]) -> int:
    """INSERT ``rows`` (tuples in ``field_names`` order, attnames such as ``booking_id``) into
    ``model``'s table. No signals, no ``save()``: the caller states every column's value."""
    fields = [model._meta.get_field(name.removesuffix("_id")) for name in field_names]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({marks})"
    # Sweep rows repeat most values (a status, the sweep's time, a note): prepare each once.
    prepared: list[dict] = [{} for _ in fields]

    decimals = [isinstance(f, models.DecimalField) for f in fields]

    def prep(i: int, value):
        if decimals[i] and type(value) is Decimal:
            # Every backend takes a Decimal as it is (``adapt_decimalfield_value`` returns it);
            # the field's own preparation only re-parses it, at several µs a value.
            return value
        memo = prepared[i]
        if isinstance(value, dict | list):  # unhashable (JSON): prepared each time
            return fields[i].get_db_prep_save(value, connection)
        if value not in memo:
            memo[value] = fields[i].get_db_prep_save(value, connection)
        return memo[value]

    params = [tuple(prep(i, v) for i, v in enumerate(row)) for row in rows]
    if any(len(row) != len(fields) for row in params):
        raise ValueError("every row needs one value per field")
    if not params:
        return 0
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
    return len(params)
