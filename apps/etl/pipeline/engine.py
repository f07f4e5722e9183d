"""The DuckDB work connection the stages share, and the SQL quoting they use."""

from pathlib import Path

import duckdb


def work_connection(*, temp_dir: Path, memory_limit: str = "700MB", threads: int = 2) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to `temp_dir` past `memory_limit`.

    Insertion order is kept so that a file's rows are numbered in the order they appear.
    """
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})
    con.execute("SET temp_directory = $dir", {"dir": str(temp_dir)})
    con.execute("SET preserve_insertion_order = true")
    return con


def ident(name: str) -> str:
    """A quoted SQL identifier (file headers may hold any character)."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A quoted SQL string literal, for values built into DDL from code or the schema."""
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: list[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None):
    return con.execute(sql, params or {}).fetchall()[0][0]
