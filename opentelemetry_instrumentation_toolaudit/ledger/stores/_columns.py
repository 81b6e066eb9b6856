# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Which indexed columns one store keeps: every column of ``schema.INDEXED_COLUMNS`` in a store
created in record format 2, ``schema.INDEXED_COLUMNS_V1`` in one created before, decided from the
columns its records table has."""

from __future__ import annotations

import operator
from collections.abc import Collection
from typing import Any

from opentelemetry_instrumentation_toolaudit.ledger._chain import ColumnValues, StoredRecord
from opentelemetry_instrumentation_toolaudit.ledger.schema import (
    DURATION_MS,
    INDEXED_COLUMNS,
    INDEXED_COLUMNS_V1,
    INDEXES,
    SEQ,
    SUCCESS,
)


class StoreColumns:
    """The data columns (indexed columns besides ``seq``) of one store, in ``INDEXED_COLUMNS``
    order, and the indexes over them."""

    __slots__ = ("_pick", "full", "indexes", "names")

    def __init__(self, columns: Collection[str]) -> None:
        self.names: tuple[str, ...] = tuple(c for c in INDEXED_COLUMNS if c in columns and c != SEQ)
        """The data column names."""
        self.full = len(self.names) == len(INDEXED_COLUMNS) - 1
        """True when the store keeps every indexed column (record format 2)."""
        self.indexes = tuple(i for i in INDEXES if set(i) <= set(self.names))
        """The composite and single-column indexes over these columns."""
        self._pick = operator.itemgetter(*(INDEXED_COLUMNS.index(c) for c in self.names))

    def values(self, record: StoredRecord) -> tuple[Any, ...]:
        """A sealed record's values for these columns, in order."""
        columns = record.columns
        if type(columns) is ColumnValues:  # as sealed: a tuple in INDEXED_COLUMNS order
            return self.of_tuple(columns.as_tuple)
        return tuple((columns or {}).get(c) for c in self.names)

    def of_tuple(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """These columns' values out of a tuple in ``INDEXED_COLUMNS`` order."""
        return values[1:] if self.full else self._pick(values)


ALL = StoreColumns(INDEXED_COLUMNS)
"""The columns of a store created in record format 2."""
V1 = StoreColumns(INDEXED_COLUMNS_V1)
"""The columns of a store created before record format 2."""


def store_columns(present: Collection[str]) -> StoreColumns:
    """The columns of a records table that has the columns ``present``."""
    return ALL if set(ALL.names) <= set(present) else V1


def sql_type(column: str, boolean: str, real: str) -> str:
    """A column's SQL type, given the database's names for a boolean and a real."""
    if column == SUCCESS:
        return boolean
    return real if column == DURATION_MS else "TEXT"


__all__ = ["ALL", "V1", "StoreColumns", "sql_type", "store_columns"]


def create_index(columns: tuple[str, ...]) -> str:
    """The ``CREATE INDEX IF NOT EXISTS`` statement of one of ``schema.INDEXES`` on the records
    table, named after its columns (the same name in every SQL store)."""
    return (
        f"CREATE INDEX IF NOT EXISTS {index_name(columns)} ON audit_records ({', '.join(columns)});"
    )


def index_name(columns: tuple[str, ...]) -> str:
    """The name of the records table's index over ``columns`` (the same in every SQL store)."""
    return f"audit_records_{'_'.join(columns)}"
