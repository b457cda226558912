"""Rows in and out on the API's hot path, without the ORM's per-call query compilation.

Building a query is most of what the ORM costs per statement (~0.3–0.6 ms of CPU for an
insert or a select with a join, against ~0.05 ms to send the SQL), and a sync API request
writes a generation, its ledger entries and its images. These helpers issue the same SQL
the ORM would, with SQL text built once per model and values prepared by the model's own
fields (``get_db_prep_save`` going in, the backend's and the fields' converters coming
out), so every database and every field type behaves exactly as through the ORM.

They fire no signals and run no validation, like ``QuerySet.bulk_create``; nothing in
Pixdash listens to saves of the models they are used for.
"""

import functools

from django.db import connection
from django.db.models import Model


@functools.cache
def _insert_sql(model: type[Model], rows: int, ignore_conflicts: bool) -> tuple[str, list]:
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
        f"VALUES {', '.join([row] * rows)}{conflict} "
        f"RETURNING {connection.ops.quote_name(model._meta.pk.column)}"
    )
    return sql, fields


def insert(obj: Model, *, ignore_conflicts: bool = False) -> bool:
    """INSERT one new instance and set its primary key. With ``ignore_conflicts``, a row
    that would break a unique constraint is not written and False is returned."""
    return bool(insert_many([obj], ignore_conflicts=ignore_conflicts))


def insert_many(objs: list[Model], *, ignore_conflicts: bool = False) -> int:
    """INSERT new instances of one model in one statement; returns how many were written
    (with ``ignore_conflicts``, the primary keys of skipped rows stay unset)."""
    if not objs:
        return 0
    model = type(objs[0])
    sql, fields = _insert_sql(model, len(objs), ignore_conflicts)
    params = [
        field.get_db_prep_save(field.pre_save(obj, add=True), connection)
        for obj in objs
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = [row[0] for row in cursor.fetchall()]
    if len(keys) == len(objs):  # RETURNING lists rows in VALUES order on both backends
        for obj, key in zip(objs, keys, strict=True):
            obj.pk = key
            obj._state.adding, obj._state.db = False, connection.alias
    return len(keys)


@functools.cache
def _reader(model: type[Model], alias: str) -> tuple[str, list[str], list]:
    fields = list(model._meta.concrete_fields)
    columns = ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in fields)
    converters = []
    for field in fields:
        column = field.get_col(alias)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        converters.append((column, found))
    return columns, [f.attname for f in fields], converters


def columns(model: type[Model], alias: str) -> str:
    """The SELECT list for ``model``'s columns from the table aliased ``alias``."""
    return _reader(model, alias)[0]


def instances(row: tuple, *models: tuple[type[Model], str]) -> list[Model]:
    """Build one instance per (model, alias) from a row selected with ``columns()`` for each
    of them, in order, converting values exactly as the ORM does."""
    built, offset = [], 0
    for model, alias in models:
        _columns, names, converted = _reader(model, alias)
        values = []
        for (column, converters), value in zip(converted, row[offset:], strict=False):
            for converter in converters:
                value = converter(value, column, connection)
            values.append(value)
        offset += len(names)
        built.append(model.from_db(connection.alias, names, values))
    return built
