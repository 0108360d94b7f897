"""Set-based inserts and updates of many rows: one statement per batch on PostgreSQL
(`unnest` of one array per column), the ORM's bulk operations elsewhere.

Rows are plain dicts of field name (or attname, e.g. "customer_id") to value; every row of
one call has the same keys. The scheduler and the CSV import write thousands of rows at a
time: the ORM's `bulk_create` prepares every value of every row in Python, and with
`ignore_conflicts` it cannot say which rows went in — `rows_insert(skip_conflicts=True,
returning=…)` can, on both databases (`ON CONFLICT DO NOTHING RETURNING`).
"""
import json

from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

SQLITE_BATCH = 500


def model_defaults(model, *, exclude=()) -> dict:
    """Every concrete field's default (the id left out), for building full rows."""
    return {
        field.attname: field.get_default()
        for field in model._meta.concrete_fields
        if not field.primary_key and field.attname not in exclude
    }


def _columns(model, names):
    fields = [model._meta.get_field(name) for name in names]
    return [(field, field.column, field.db_type(connection)) for field in fields]


def _array(field, db_type, values: list) -> list:
    if db_type == "jsonb":
        # One encoder for the whole column: json.dumps(cls=…) builds one per value.
        encode = (field.encoder or json.JSONEncoder)().encode
        return [None if v is None else encode(v) for v in values]
    return values


def _cast(db_type: str) -> str:
    return "text[]" if db_type == "jsonb" else f"{db_type}[]"


def _select(name: str, db_type: str) -> str:
    return f"v.{name}::jsonb" if db_type == "jsonb" else f"v.{name}"


def rows_insert(model, rows: list[dict], *, returning: tuple[str, ...] = (),
                skip_conflicts: bool = False) -> list[tuple]:
    """Insert `rows`; with `returning`, return those columns of the new rows.

    With `skip_conflicts`, rows that would break a unique constraint are left out (and
    not returned): what comes back is exactly what this call inserted.
    """
    if not rows:
        return []
    names = list(rows[0])
    if connection.vendor != "postgresql" and skip_conflicts:
        return _insert_values_skipping_conflicts(model, names, rows, returning)
    if connection.vendor != "postgresql":
        objects = model.objects.bulk_create(
            [model(**row) for row in rows], batch_size=SQLITE_BATCH)
        return [tuple(getattr(obj, name) for name in returning) for obj in objects]
    sql, params = insert_statement(model, rows, returning=returning,
                                   skip_conflicts=skip_conflicts)
    return pg_execute(sql, params, fetch=bool(returning))


def insert_statement(model, rows: list[dict], *, returning: tuple[str, ...] = (),
                     skip_conflicts: bool = False) -> tuple[str, list]:
    """PostgreSQL: the `INSERT … SELECT … FROM unnest(…)` of `rows_insert` and its
    parameters, for use inside a larger statement (e.g. a CTE); run it with `pg_execute`."""
    names = list(rows[0])
    columns = _columns(model, names)
    table = connection.ops.quote_name(model._meta.db_table)
    # A column with one value for every row goes as one parameter, not as an array:
    # building arrays is most of the cost on the Python side.
    arrays, selects, params_select = [], [], []
    for name, (field, _, db_type) in zip(names, columns):
        values = [row[name] for row in rows]
        if values.count(values[0]) == len(values):
            selects.append(f"%s::{db_type}" if db_type != "jsonb" else "%s::jsonb")
            params_select.append(_array(field, db_type, values[:1])[0])
        else:
            selects.append(_select(f"c{len(arrays)}", db_type))
            arrays.append((_array(field, db_type, values), db_type))
    sql = (f"INSERT INTO {table} ({', '.join(connection.ops.quote_name(c) for _, c, _ in columns)}) "
           f"SELECT {', '.join(selects)}")
    if arrays:
        sql += (f" FROM unnest({', '.join(f'%b::{_cast(t)}' for _, t in arrays)}) "
                f"AS v({', '.join(f'c{i}' for i in range(len(arrays)))})")
    else:
        sql += f" FROM generate_series(1, {len(rows)})"
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(
            connection.ops.quote_name(model._meta.get_field(n).column) for n in returning)
    return sql, params_select + [values for values, _ in arrays]


def _insert_values_skipping_conflicts(model, names, rows, returning) -> list[tuple]:
    """SQLite (≥ 3.35): multi-row INSERT … ON CONFLICT DO NOTHING RETURNING, values
    prepared by their fields as the ORM would."""
    fields = [model._meta.get_field(name) for name in names]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    tail = " ON CONFLICT DO NOTHING"
    if returning:
        tail += " RETURNING " + ", ".join(
            connection.ops.quote_name(model._meta.get_field(n).column) for n in returning)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    result = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), SQLITE_BATCH):
            chunk = rows[start:start + SQLITE_BATCH]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES "
                + ", ".join([placeholders] * len(chunk)) + tail,
                [field.get_db_prep_save(row[name], connection)
                 for row in chunk for field, name in zip(fields, names)],
            )
            if returning:
                result.extend(cursor.fetchall())
    return result


def instances_insert(objs, *, returning: tuple[str, ...] = (),
                     skip_conflicts: bool = False) -> list[tuple]:
    """`rows_insert` for unsaved model instances: every concrete column but the id."""
    if not objs:
        return []
    fields = [f for f in objs[0]._meta.concrete_fields if not f.primary_key]
    return rows_insert(
        type(objs[0]), [{f.attname: getattr(obj, f.attname) for f in fields} for obj in objs],
        returning=returning, skip_conflicts=skip_conflicts,
    )


def rows_update(model, rows: list[dict], *, fields: list[str]) -> None:
    """Set `fields` of each row, found by its "id", to the row's values."""
    if not rows or not fields:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(
            [model(id=row["id"], **{name: row[name] for name in fields}) for row in rows],
            fields, batch_size=SQLITE_BATCH)
        return
    columns = _columns(model, ["id", *fields])
    table = connection.ops.quote_name(model._meta.db_table)
    aliases = [f"c{i}" for i in range(len(columns))]
    assignments = ", ".join(
        f"{connection.ops.quote_name(column)} = {_select(alias, t)}"
        for alias, (_, column, t) in zip(aliases[1:], columns[1:]))
    sql = (
        f"UPDATE {table} AS t SET {assignments} "
        f"FROM unnest({', '.join(f'%b::{_cast(t)}' for _, _, t in columns)}) "
        f"AS v({', '.join(aliases)}) WHERE t.id = v.c0"
    )
    params = [_array(field, t, [row[name] for row in rows])
              for name, (field, _, t) in zip(["id", *fields], columns)]
    pg_execute(sql, params)


def pg_execute(sql: str, params: list, *, fetch: bool = False) -> list[tuple]:
    """Run one statement with its parameters sent apart from the query, in binary: Django's
    client-side binding would quote every array element into the query text, which costs
    more than the database's own work. The arrays' placeholders are `%b`: psycopg then
    dumps them in binary (its text format escapes every element, ~20× slower for a
    timestamp array). Same connection, so the same transaction."""
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall() if fetch else []


def filter_in(queryset, field: str, values):
    """`queryset.filter(<field>__in=values)`; on PostgreSQL as `= ANY(%s)` with one array
    parameter, since thousands of placeholders cost more to send than the query itself."""
    values = list(values)
    if connection.vendor != "postgresql":
        return queryset.filter(**{f"{field}__in": values})
    model_field = queryset.model._meta.get_field(field)
    column = (f"{connection.ops.quote_name(queryset.model._meta.db_table)}."
              f"{connection.ops.quote_name(model_field.column)}")
    return queryset.filter(RawSQL(f"{column} = ANY(%s::{model_field.db_type(connection)}[])",
                                  (values,), output_field=BooleanField()))
