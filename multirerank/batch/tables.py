"""The tables :mod:`multirerank.batch` reads and writes: pandas DataFrames, pyarrow Tables, and
mappings of column name to values (Ray Data's ``batch_format="numpy"``).

Each is read column by column into Python lists and written back as the same kind with columns
added, rows in the same order; the caller's table is never modified. pandas, pyarrow and numpy
are imported only when the table is one of theirs.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from multirerank.errors import RerankInputError

#: The Python type of each added column's values, for typed empty columns and Arrow types.
ColumnKind = str  # "float" | "string" | "list"


def _module_type(module: str, name: str) -> type | None:
    """``module.name`` when that library is already imported (the table must come from it)."""
    loaded = sys.modules.get(module)
    found = getattr(loaded, name, None) if loaded is not None else None
    return found if isinstance(found, type) else None


class Table:
    """One input table: its kind, its columns read as lists, and a copy with columns added.

    Raises :class:`RerankInputError` for anything but a pandas DataFrame, a pyarrow Table or
    RecordBatch, or a mapping of column names to equally long sequences.
    """

    def __init__(self, given: object) -> None:
        self.table = table = given
        table_any: Any = given
        frame = _module_type("pandas", "DataFrame")
        arrow_table = _module_type("pyarrow", "Table")
        arrow_batch = _module_type("pyarrow", "RecordBatch")
        if frame is not None and isinstance(table, frame):
            self.kind = "pandas"
            self.names = [str(name) for name in table_any.columns]
            self.rows = len(table_any)
        elif (arrow_table is not None and isinstance(table, arrow_table)) or (
            arrow_batch is not None and isinstance(table, arrow_batch)
        ):
            self.kind = "arrow"
            self.names = list(table_any.schema.names)
            self.rows = table_any.num_rows
        elif isinstance(table, Mapping):
            self.kind = "mapping"
            self.names = [str(name) for name in table]
            for name, values in table.items():
                # A string has a length too: {"query": "q"} would be one row per character.
                if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__len__"):
                    raise RerankInputError(
                        f"column {name!r} must be a list (or array) of values, one per row; "
                        f"got {type(values).__name__}"
                    )
            lengths = {len(values) for values in table.values()}
            if len(lengths) > 1:
                raise RerankInputError("the table's columns differ in length")
            self.rows = lengths.pop() if lengths else 0
        else:
            raise RerankInputError(
                "table must be a pandas DataFrame, a pyarrow Table or a mapping of column names to "
                f"values; got {type(table).__name__}"
            )

    def column(self, name: str, setting: str) -> list[Any]:
        """Column ``name`` as a list; a :class:`RerankInputError` naming ``setting`` when absent,
        except from a table with no columns and no rows (an empty JSON lines file, ``{}``), which
        has nothing to score and so reads as empty whatever it is asked for."""
        if isinstance(name, str) and not self.names and self.rows == 0:
            return []
        if not isinstance(name, str) or name not in self.names:
            raise RerankInputError(
                f"the table has no column {name!r} ({setting}); its columns are {', '.join(map(repr, self.names))}"
            )
        table: Any = self.table
        if self.kind == "pandas":
            return list(table[name].tolist())
        if self.kind == "arrow":
            return list(table.column(name).to_pylist())
        values = table[name]
        return list(values.tolist() if hasattr(values, "tolist") else values)

    def check_free(self, names: Sequence[str]) -> None:
        """Refuse to overwrite a column the caller already has (their data would be lost)."""
        taken = [name for name in names if name in self.names]
        if taken:
            raise RerankInputError(
                f"the table already has column(s) {', '.join(map(repr, taken))}, which the results "
                "would replace; rename or drop them first"
            )

    def with_columns(self, columns: Mapping[str, tuple[ColumnKind, list[Any]]]) -> Any:
        """A new table of the same kind: every input column, then ``columns`` (kind, values)."""
        table: Any = self.table
        if self.kind == "pandas":
            import pandas as pd

            added = {
                name: pd.Series(values, index=table.index, dtype=_pandas_dtype(kind))
                for name, (kind, values) in columns.items()
            }
            return table.assign(**added)
        if self.kind == "arrow":
            import pyarrow as pa

            for name, (kind, values) in columns.items():
                table = table.append_column(name, pa.array(values, type=_arrow_type(pa, kind)))
            return table
        out = dict(table)
        numpy = any(type(values).__module__ == "numpy" for values in table.values())
        for name, (kind, values) in columns.items():
            out[name] = _numpy_column(kind, values) if numpy else values
        return out


def _pandas_dtype(kind: ColumnKind) -> str:
    return "float64" if kind == "float" else "object"


def _arrow_type(pa: Any, kind: ColumnKind) -> Any:
    # Lists are left to inference: candidates may be strings or structs.
    return {"float": pa.float64(), "string": pa.string()}.get(kind)


def _numpy_column(kind: ColumnKind, values: list[Any]) -> Any:
    import numpy as np

    if kind == "float":
        return np.array([np.nan if value is None else value for value in values], dtype=np.float64)
    # Filled one by one: numpy would read a list of equally long lists as a 2-D array.
    column = np.empty(len(values), dtype=object)
    for row, value in enumerate(values):
        column[row] = value
    return column
