"""What changed between two publications, table by table, as Our World in Data's ``etl diff`` shows
two versions of a dataset: rows added, removed and changed (keyed by each table's contract key),
which columns changed with a few examples, and the tables and columns that appeared or went.

Both files are attached read-only to one in-memory DuckDB database and compared there, in two
passes, so that a small change to a large table costs little memory and time:

1. a fingerprint per partition of each side: for every key column, its values' row counts and an
   XOR of the rows' hashes (``group by grouping sets``: one scan of each side; the state held is one
   row per distinct value of a key column: few for the WDI's country, series and year, as many as
   rows only for a table keyed by one column, which are the small ones);
2. the rows themselves are joined only in the partitions of the key column that differ least: two
   whole-WDI publications that differ by one series are joined on that series' rows alone.

A difference the fingerprints miss would take a partition whose changed rows' 64-bit hashes XOR
to the same value as before (each row's hash is hashed again, so no pattern of changes cancels by
construction): rare enough for a report of changes, which is what this is (the published files
themselves are never compared by it). A table without a key (the seeds, the audit) is compared
as a multiset of whole rows: rows added and removed, none "changed".

Two floating-point values within ``FLOAT_TOLERANCE`` of each other, relative to the larger, are
the same number: a sum or mean over many rows adds its terms in whatever order DuckDB's threads
reach them, so two builds of the same inputs may differ in the last bits, and that is no change.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from orchestration.settings import PUBLISHED_SCHEMAS
from orchestration.sql import quoted

# Examples shown per changed column, and of rows added and removed.
EXAMPLES = 3
FLOAT_TOLERANCE = 1e-12
_FLOATS = ("DOUBLE", "FLOAT", "REAL")
# The published tables compared: the analysts' contract (meta.* describes each publication itself).
COMPARED_SCHEMAS = tuple(schema for schema in PUBLISHED_SCHEMAS if schema != "meta")
KEYS_TABLE = "meta.table_keys"


@dataclass
class TableDiff:
    table: str
    status: str  # "added", "removed", "changed" or "unchanged"
    key: list[str] = field(default_factory=list)  # empty: compared as whole rows
    rows_old: int | None = None
    rows_new: int | None = None
    added: int = 0
    removed: int = 0
    changed: int = 0
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    columns_retyped: list[dict] = field(default_factory=list)  # {"column", "old", "new"}
    changed_columns: dict[str, int] = field(default_factory=dict)  # column -> rows where it changed
    examples: list[dict] = field(default_factory=list)  # {"key", "column", "old", "new"}
    added_examples: list[dict] = field(default_factory=list)  # the keys (or rows) of a few
    removed_examples: list[dict] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.added + self.removed + self.changed


@dataclass
class Diff:
    old: str
    new: str
    tables: list[TableDiff]

    def summary(self) -> dict:
        """What a refresh's report and its summary line say: tables changed, and rows per table."""
        changed = [t for t in self.tables if t.status != "unchanged"]
        return {
            "old": self.old,
            "new": self.new,
            "tables_changed": len(changed),
            "rows": sum(t.rows for t in changed),
            "tables": {t.table: {"status": t.status, "rows": t.rows} for t in changed},
        }

    def as_dict(self) -> dict:
        return {**self.summary(), "tables": [asdict(t) | {"rows": t.rows} for t in self.tables]}


def summary_line(summary: dict) -> str:
    """``3 tables changed: 12 rows`` (or ``no change``), from ``Diff.summary()``."""
    if "error" in summary:
        return f"not compared ({summary['error']})"
    if "tables_changed" not in summary:
        return "not compared"
    if not summary["tables_changed"]:
        return "no change"
    tables = summary["tables_changed"]
    rows = summary["rows"]
    return f"{tables} table{'s' if tables != 1 else ''} changed: {rows:,} row{'s' if rows != 1 else ''}"


def as_text(diff: Diff) -> str:
    """The diff as the command line prints it: the summary, then each table that changed."""
    lines = [f"{diff.old} -> {diff.new}: {summary_line(diff.summary())}"]
    for t in diff.tables:
        if t.status == "unchanged":
            continue
        if t.status in ("added", "removed"):
            lines.append(f"\n{t.table}: {t.status} ({t.rows_new if t.status == 'added' else t.rows_old:,} rows)")
            continue
        key = f"key {', '.join(t.key)}" if t.key else "no key: whole rows compared"
        lines.append(
            f"\n{t.table} ({key}): {t.rows_old:,} -> {t.rows_new:,} rows; "
            f"{t.added:,} added, {t.removed:,} removed, {t.changed:,} changed"
        )
        for label, names in (("columns added", t.columns_added), ("columns removed", t.columns_removed)):
            if names:
                lines.append(f"  {label}: {', '.join(names)}")
        for retyped in t.columns_retyped:
            lines.append(f"  column {retyped['column']} retyped: {retyped['old']} -> {retyped['new']}")
        for column, rows in t.changed_columns.items():
            lines.append(f"  {column} changed in {rows:,} row{'s' if rows != 1 else ''}, e.g.")
            for example in (e for e in t.examples if e["column"] == column):
                lines.append(f"    {_key_text(example['key'])}: {example['old']!r} -> {example['new']!r}")
        for label, examples in (("added", t.added_examples), ("removed", t.removed_examples)):
            if examples:
                lines.append(f"  {label}, e.g.: " + "; ".join(_key_text(e) for e in examples))
    unchanged = [t.table for t in diff.tables if t.status == "unchanged"]
    if unchanged:
        lines.append(f"\nunchanged: {len(unchanged)} table{'s' if len(unchanged) != 1 else ''}")
    return "\n".join(lines) + "\n"


def _key_text(key: dict) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in key.items())


def connect(old: Path, new: Path, config: dict[str, object]) -> duckdb.DuckDBPyConnection:
    """An in-memory database with ``old`` and ``new`` attached read-only as ``old`` and ``new``; then
    nothing else can be read or written (external access off, the configuration locked)."""
    # Attached first: external access off, and the configuration locked, only once both are.
    later = ("enable_external_access", "lock_configuration")
    connection = duckdb.connect(":memory:", config={k: v for k, v in config.items() if k not in later})
    try:
        connection.execute("attach ? as old (read_only)", [str(old)])
        connection.execute("attach ? as new (read_only)", [str(new)])
        connection.execute("set enable_external_access = false")
        connection.execute("set lock_configuration = true")
    except BaseException:
        connection.close()
        raise
    return connection


def between(old: Path, new: Path, old_id: str, new_id: str, config: dict[str, object], only: str | None = None) -> Diff:
    """``compare`` on its own connection to the two files."""
    with connect(old, new, config) as connection:
        return compare(connection, old_id, new_id, only)


class UnknownTable(LookupError):
    """A table that neither publication publishes."""


def compare(
    connection: duckdb.DuckDBPyConnection,
    old_id: str,
    new_id: str,
    only: str | None = None,
    calling: Callable[[], AbstractContextManager] = nullcontext,
) -> Diff:
    """Every published table of ``old`` and ``new`` (attached by ``connect``), or the table ``only``.
    Each statement runs within ``calling()``: the served door's time limit, taken up again for every
    statement (an interrupt that lands between two statements would be lost)."""
    old_tables, new_tables = _tables(connection, "old"), _tables(connection, "new")
    names = sorted(old_tables.keys() | new_tables.keys())
    if only is not None:
        if only not in names:
            raise UnknownTable(f"no published table {only!r} in either publication; tables: {', '.join(names)}")
        names = [only]
    table_keys = {**keys(connection, "old"), **keys(connection, "new")}
    session = _Session(connection, calling)
    diffs = []
    for name in names:
        if name not in old_tables:
            rows = session.count(f"new.{_qualified(name)}")
            diffs.append(TableDiff(name, "added", rows_new=rows, added=rows))
        elif name not in new_tables:
            rows = session.count(f"old.{_qualified(name)}")
            diffs.append(TableDiff(name, "removed", rows_old=rows, removed=rows))
        else:
            diffs.append(_table_diff(session, name, old_tables[name], new_tables[name], table_keys.get(name, [])))
    return Diff(old_id, new_id, diffs)


class _Session:
    """The diff's connection, each statement within ``calling()``."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, calling: Callable[[], AbstractContextManager]):
        self.connection, self.calling = connection, calling

    def rows(self, sql: str, parameters: list | None = None) -> list[tuple]:
        with self.calling():
            return self.connection.execute(sql, parameters).fetchall()

    def count(self, relation: str) -> int:
        return self.rows(f"select count(*) from {relation}")[0][0]


def _table_diff(
    session: _Session,
    name: str,
    old_columns: dict[str, str],
    new_columns: dict[str, str],
    key: list[str],
) -> TableDiff:
    common = [c for c in new_columns if c in old_columns]
    if not all(k in common for k in key):
        key = []  # the key itself changed: compare whole rows
    diff = TableDiff(
        name,
        "unchanged",
        key=key,
        columns_added=[c for c in new_columns if c not in old_columns],
        columns_removed=[c for c in old_columns if c not in new_columns],
        columns_retyped=[
            {"column": c, "old": old_columns[c], "new": new_columns[c]}
            for c in common
            if old_columns[c] != new_columns[c]
        ],
    )
    if common:
        table = _Pair(session, name, common, old_columns, new_columns)
        if key:
            table.by_key(diff)
        else:
            table.as_rows(diff)
    else:  # no column in common: only the counts compare
        diff.rows_old, diff.rows_new = (session.count(f"{side}.{_qualified(name)}") for side in ("old", "new"))
    if diff.rows or diff.columns_added or diff.columns_removed or diff.columns_retyped:
        diff.status = "changed"
    return diff


class _Pair:
    """One table as two publications hold it, over the columns both have: each side projected to
    ``c_0, c_1, ...`` (names no table can clash with), the old side's values cast to the new
    side's type where it changed, so they are compared, and shown, as the new type (1 and 1.0 are
    the same number; a value the new type cannot hold is NULL)."""

    def __init__(self, session: _Session, name: str, common: list[str], old_columns: dict, new_columns: dict):
        self.rows, self.common = session.rows, common
        self.positions = range(len(common))

        def side(database: str, cast: bool) -> str:
            values = ", ".join(
                f"try_cast({quoted(c)} as {new_columns[c]}) as c_{i}"
                if cast and old_columns[c] != new_columns[c]
                else f"{quoted(c)} as c_{i}"
                for i, c in enumerate(common)
            )
            return f"(select {values} from {database}.{_qualified(name)})"

        self.old, self.new = side("old", True), side("new", False)
        self.row = ", ".join(f"c_{i}" for i in self.positions)
        self.floats = {i for i, c in enumerate(common) if new_columns[c] in _FLOATS}

    def differs(self, i: int, old: str, new: str) -> str:
        """Whether column ``i`` differs between the values ``old`` and ``new`` (SQL): a float only
        beyond FLOAT_TOLERANCE (module docstring)."""
        if i not in self.floats:
            return f"{old} is distinct from {new}"
        within = f"coalesce(abs({old} - {new}) <= {FLOAT_TOLERANCE} * greatest(abs({old}), abs({new})), false)"
        return f"not ({old} is not distinct from {new} or {within})"

    def by_key(self, diff: TableDiff) -> None:
        key = diff.key
        positions = [self.common.index(k) for k in key]
        where, diff.rows_old, diff.rows_new = self._differing_partitions(positions)
        if where is None:
            return
        self._differing_rows(positions, where)
        presence = "count(*) filter (where o_in is null), count(*) filter (where n_in is null)"
        per_column = ", ".join(
            f"count(*) filter (where o_in and n_in and {self.differs(i, f'o_{i}', f'n_{i}')})" for i in self.positions
        )
        (counts,) = self.rows(f"select {presence}, count(*) filter (where o_in and n_in), {per_column} from differing")
        diff.added, diff.removed, diff.changed = counts[:3]
        diff.changed_columns = {
            column: n for i, (column, n) in enumerate(zip(self.common, counts[3:])) if n and i not in positions
        }
        keys_of = ", ".join(f"k_{j}" for j in range(len(key)))
        for column in diff.changed_columns:
            i = self.common.index(column)
            for *k, old, new in self.rows(
                f"select {keys_of}, o_{i}, n_{i} from differing where o_in and n_in and {self.differs(i, f'o_{i}', f'n_{i}')} "
                f"order by {keys_of} limit {EXAMPLES}"
            ):
                diff.examples.append({"key": dict(zip(key, k)), "column": column, "old": old, "new": new})
        for side, examples in (("o_in", diff.added_examples), ("n_in", diff.removed_examples)):
            rows = self.rows(
                f"select {keys_of} from differing where {side} is null order by {keys_of} limit {EXAMPLES}"
            )
            examples.extend(dict(zip(key, k)) for k in rows)
        self.rows("drop table differing")

    def _differing_partitions(self, positions: list[int]) -> tuple[str | None, int, int]:
        """Pass 1: a fingerprint per value of each key column, on each side. Returns the filter to the
        rows of the partitions that differ (None: nothing differs; "true": every row is to be
        joined), and each side's row count."""
        sets = ", ".join(f"(c_{p})" for p in positions)
        grouping = ", ".join(f"c_{p}" for p in positions)
        text = ", ".join(f"c_{p}::varchar" for p in positions)

        def fingerprints(side: str) -> str:
            # hash() of several values XORs the last one in: hashed again, so that the same change to
            # the last column of two rows of one partition cannot cancel out in the XOR.
            return (
                f"select grouping_id({grouping}) as g, coalesce({text}) as v, count(*) as n, "
                f"bit_xor(hash(hash({self.row}))) as h from {side} group by grouping sets ({sets})"
            )

        self.rows(
            f"""
            create or replace temp table parts as
            with o as ({fingerprints(self.old)}), n as ({fingerprints(self.new)})
            select coalesce(o.g, n.g) as g, coalesce(o.v, n.v) as v,
                   coalesce(o.n, 0) as n_old, coalesce(n.n, 0) as n_new,
                   o.h is distinct from n.h or o.n is distinct from n.n as differs
            from o full outer join n on o.g = n.g and o.v is not distinct from n.v
            """
        )
        # Grouping ids: a bit per key column (the last the lowest), set for those not grouped; the least to join first.
        best = self.rows(
            "select g, sum(n_old), sum(n_new), sum(n_old + n_new) filter (where differs), "
            "bool_or(v is null) filter (where differs) from parts group by g order by 4 nulls first, g limit 1"
        )
        if not best:  # both sides empty
            self.rows("drop table parts")
            return None, 0, 0
        g, rows_old, rows_new, joined, nulls = best[0]
        if not joined or joined == rows_old + rows_new:
            self.rows("drop table parts")
            return (None if not joined else "true"), rows_old, rows_new
        column = positions[len(positions) - 1 - [(g >> b) & 1 for b in range(len(positions))].index(0)]
        # The differing values stay in DuckDB, within its memory limit, however many they are.
        self.rows("create or replace temp table partitions as select v from parts where g = ? and differs", [g])
        self.rows("drop table parts")
        either = f" or c_{column} is null" if nulls else ""
        return f"(c_{column}::varchar in (select v from partitions){either})", rows_old, rows_new

    def _differing_rows(self, positions: list[int], where: str) -> None:
        """Pass 2: the rows of the partitions that differ, paired by key, kept where they differ."""

        def side(prefix: str, rows: str) -> str:
            columns = ", ".join(f"c_{i} as {prefix}_{i}" for i in self.positions)
            return f"(select {columns}, true as {prefix}_in from {rows} where {where}) as {prefix}"

        self.rows(
            f"""
            create or replace temp table differing as
            select {", ".join(f"coalesce(o.o_{p}, n.n_{p}) as k_{j}" for j, p in enumerate(positions))}, o.*, n.*
            from {side("o", self.old)} full outer join {side("n", self.new)}
              on {" and ".join(f"o.o_{p} is not distinct from n.n_{p}" for p in positions)}
            where o.o_in is null or n.n_in is null
               or {" or ".join(self.differs(i, f"o.o_{i}", f"n.n_{i}") for i in self.positions)}
            """
        )
        self.rows("drop table if exists partitions")

    def as_rows(self, diff: TableDiff) -> None:
        """A table without a key: the rows of one side that the other lacks, duplicates counted."""
        diff.rows_old, diff.rows_new = (self.rows(f"select count(*) from {t}")[0][0] for t in (self.old, self.new))
        for first, second, examples, attribute in (
            (self.new, self.old, diff.added_examples, "added"),
            (self.old, self.new, diff.removed_examples, "removed"),
        ):
            self.rows(
                f"create or replace temp table only_one as "
                f"select {self.row} from {first} except all select {self.row} from {second}"
            )
            setattr(diff, attribute, self.rows("select count(*) from only_one")[0][0])
            for row in self.rows(f"from only_one order by all limit {EXAMPLES}"):
                examples.append(dict(zip(self.common, row)))
        self.rows("drop table if exists only_one")


def _tables(connection: duckdb.DuckDBPyConnection, side: str) -> dict[str, dict[str, str]]:
    """``schema.table`` -> {column: type}, for the published tables of one side."""
    tables: dict[str, dict[str, str]] = {}
    for schema, table, column, kind in connection.execute(
        "select schema_name, table_name, column_name, data_type from duckdb_columns() "
        "where database_name = ? and list_contains(?, schema_name) and not internal order by column_index",
        [side, list(COMPARED_SCHEMAS)],
    ).fetchall():
        tables.setdefault(f"{schema}.{table}", {})[column] = kind
    return tables


def keys(connection: duckdb.DuckDBPyConnection, side: str) -> dict[str, list[str]]:
    """Each table's key as the publication recorded it (``meta.table_keys``); for one published
    before keys were recorded, the primary keys it declares."""
    recorded = connection.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = 'meta' and table_name = 'table_keys'",
        [side],
    ).fetchone()[0]
    if recorded:
        rows = connection.execute(f"select table_name, key_columns from {quoted(side)}.{KEYS_TABLE}").fetchall()
    else:
        rows = connection.execute(
            "select schema_name || '.' || table_name, constraint_column_names from duckdb_constraints() "
            "where database_name = ? and constraint_type = 'PRIMARY KEY'",
            [side],
        ).fetchall()
    return {name: list(columns) for name, columns in rows}


def _qualified(name: str) -> str:
    schema, table = name.split(".", 1)
    return f"{quoted(schema)}.{quoted(table)}"
