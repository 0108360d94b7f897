"""Bulk inserts that say which rows they inserted, at a fraction of the ORM's cost per row.

The scheduler writes thousands of rows per tick (messages, their log lines). The ORM's
`bulk_create` builds a model instance and prepares every value of every row, and with
`ignore_conflicts` it cannot say which rows went in. `rows_insert` takes plain tuples and
runs, on PostgreSQL, one `INSERT … SELECT FROM unnest(arrays)` per call (the driver sends
each column as one array), elsewhere a multi-row `INSERT … VALUES`; with
`ON CONFLICT DO NOTHING RETURNING` both return exactly the new rows.
"""
from collections.abc import Sequence

from django.db import connection

# SQLite allows 32,766 bound variables per statement; stay well below it.
_SQLITE_ROWS_PER_STATEMENT = 500


def rows_insert(
    model,
    fields: Sequence[str],
    rows: Sequence[tuple],
    *,
    returning: Sequence[str] = (),
    skip_conflicts: bool = False,
) -> list[tuple]:
    """Insert `rows` (tuples in `fields` order, Python values) into `model`'s table.

    `fields` are model field names (a foreign key by its `_id` attname or its name).
    With `skip_conflicts`, rows that would break a unique constraint are left out.
    Returns the `returning` columns of the inserted rows (in no guaranteed order).
    """
    if not rows:
        return []
    meta = model._meta
    model_fields = [meta.get_field(name) for name in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in model_fields)
    table = connection.ops.quote_name(meta.db_table)
    tail = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    if returning:
        tail += " RETURNING " + ", ".join(
            connection.ops.quote_name(meta.get_field(name).column) for name in returning
        )
    result: list[tuple] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{_array_type(f)}[]" for f in model_fields)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}){tail}",
                [list(column) for column in zip(*rows)],
            )
            if returning:
                result.extend(cursor.fetchall())
            return result
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(rows), _SQLITE_ROWS_PER_STATEMENT):
            chunk = rows[start:start + _SQLITE_ROWS_PER_STATEMENT]
            params = [
                field.get_db_prep_save(value, connection)
                for row in chunk
                for field, value in zip(model_fields, row)
            ]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES "
                + ", ".join([placeholders] * len(chunk)) + tail,
                params,
            )
            if returning:
                result.extend(cursor.fetchall())
    return result


def _array_type(field) -> str:
    """The PostgreSQL element type to cast an unnest array to, e.g. bigint or varchar(64)."""
    if field.is_relation:
        field = field.target_field
    db_type = field.db_type(connection)
    # Serial/identity columns are bigint/integer values once they exist.
    return db_type.split(" GENERATED")[0]


def instances_insert(
    objs: Sequence, *, returning: Sequence[str] = (), skip_conflicts: bool = False
) -> list[tuple]:
    """`rows_insert` for unsaved model instances: every concrete column but the id."""
    if not objs:
        return []
    fields = [f for f in objs[0]._meta.concrete_fields if not f.primary_key]
    return rows_insert(
        type(objs[0]), [f.name for f in fields],
        [tuple(getattr(obj, f.attname) for f in fields) for obj in objs],
        returning=returning, skip_conflicts=skip_conflicts,
    )
