"""Keyset pagination on (created_at, id), shared by every newest-first list.

A row-value comparison ``(created_at, id) < (%s, %s)`` is served by a (…, -created_at, -id)
index at any depth; OFFSET and Django's ``Q(a<x) | Q(a=x, id<y)`` form both degrade with
depth (docs/PRODUCT.md). Django has no row-value lookup, hence the small raw expression.
"""

from datetime import datetime

from django.db import connection, models
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

_OPERATORS = frozenset({"<", ">"})


def row_compare(model: type[models.Model], operator: str, created_at: datetime, pk: int) -> RawSQL:
    """``(created_at, id) <operator> (created_at, pk)`` for ``model``, to use in filter().

    Columns are table-qualified because list filters often join a table with its own
    created_at and id; the datetime goes through the backend's adapter so SQLite compares
    its stored text form and PostgreSQL a timestamptz.
    """
    if operator not in _OPERATORS:
        raise ValueError(f"operator must be < or >, got {operator!r}")
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = f"{table}.{quote('created_at')}, {table}.{quote('id')}"
    sql = f"({columns}) {operator} (%s, %s)"
    value = connection.ops.adapt_datetimefield_value(created_at)
    return RawSQL(sql, (value, pk), output_field=BooleanField())
