"""A publication as a Frictionless Data Package (https://datapackage.org), for a data repository:
one Parquet (or CSV) file per published table of ``marts`` and ``paper``, a ``datapackage.json``
describing them, and a README.

The descriptor gives each table's Table Schema (fields, types, dbt's descriptions, the contract's
key), the publication (id, run, code, input fingerprints), every upstream file it was built from
as ``marts.source_snapshots`` records it (sha256, origin, licence, citation), a suggested citation,
and the upstreams' terms as the snapshots state them: the warehouse adds no licence of its own.

Every table is read through an analyst connection (sandbox.py) under the query time limit, batch by
batch (execution.py), so the command line and the served door build the same package within the
same limits; the files come out as a sequence of (path, pieces), written to a folder or streamed
as one zip.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb

from orchestration.analysts import execution, formats
from orchestration.analysts.catalog import Table, catalog
from orchestration.analysts.encoding import document_json
from orchestration.analysts.sandbox import QueryRefused, connect
from orchestration.durable import TEMPORARY_PREFIX, fsync
from orchestration.publications import Publication
from orchestration.publishing.diff import COMPARED_SCHEMAS, keys
from orchestration.settings import Settings
from orchestration.sql import quoted

FORMATS = ("parquet", "csv")
PACKAGED_SCHEMAS = COMPARED_SCHEMAS
SOURCES_TABLE = "marts.source_snapshots"
_URL = re.compile(r"https?://[^\s)]+")
# DuckDB's types as Table Schema's (https://datapackage.org/standard/table-schema/#field-types).
_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_NUMBERS = {"FLOAT", "DOUBLE", "DECIMAL"}


class PackageRefused(QueryRefused):
    """An export that would write where it must not: nothing is written."""


class Package:
    """The package of one publication, read through ``cursor`` (an analyst connection to its file)."""

    def __init__(
        self,
        cursor: duckdb.DuckDBPyConnection,
        publication: Publication,
        fmt: str = "parquet",
        tables: list[Table] | None = None,  # its catalog, if known already (the served door's is)
    ):
        if fmt not in FORMATS:
            raise QueryRefused(f"unknown package format {fmt!r}: {' or '.join(FORMATS)}")
        self.cursor, self.publication, self.fmt = cursor, publication, fmt
        self.tables = [t for t in tables or catalog(cursor) if t.name.split(".")[0] in PACKAGED_SCHEMAS]
        database = cursor.execute("select current_database()").fetchone()[0]
        self.keys = keys(cursor, database)
        sources = execution.execute(cursor, f"select * from {SOURCES_TABLE} order by all")
        if sources.truncated:
            raise QueryRefused(f"{SOURCES_TABLE} has more rows than the row limit: the package would not name them all")
        names = [name for name, _ in sources.columns]
        self.sources = [dict(zip(names, row)) for row in sources.rows]

    def files(self) -> Iterator[tuple[str, Iterator[bytes]]]:
        """Each file of the package as (path, its bytes piece by piece): the tables, then
        ``datapackage.json`` and ``README.md``, which describe what was written."""
        resources = []
        for table in self.tables:
            path = f"data/{table.name.replace('.', '/')}.{self.fmt}"
            written = _Written()
            yield path, written.counting(self._rows(table))
            resources.append(self._resource(table, path, written))
        descriptor = self.descriptor(resources)
        yield "datapackage.json", _once(document_json(descriptor, indent=True) + b"\n")
        yield "README.md", _once(self.readme(descriptor).encode("utf-8"))

    def _rows(self, table: Table) -> Iterator[bytes]:
        schema, name = table.name.split(".")
        stream = execution.stream(
            self.cursor, f"select * from {quoted(schema)}.{quoted(name)}", formats.AS_TEXT[self.fmt]
        )
        try:
            encoder = formats.Encoder(stream.schema, self.fmt)
            while (batch := stream.next_batch()) is not None:
                yield encoder.write(batch)
            yield encoder.finish()
        finally:
            stream.close()

    def _resource(self, table: Table, path: str, written: _Written) -> dict:
        resource = {
            "name": table.name,
            "path": path,
            "format": self.fmt,
            "mediatype": formats.MEDIA_TYPES[self.fmt].split(";")[0],
            "description": table.description,
            "hash": f"sha256:{written.digest.hexdigest()}",
            "schema": {
                "fields": [
                    _field(column, kind, description, formats.AS_TEXT[self.fmt](kind))
                    for column, kind, description in table.columns
                ],
            },
        }
        if self.fmt == "csv":
            # Only for CSV: frictionless counts a Parquet file's bytes as none, and would fail the package.
            resource |= {"encoding": "utf-8", "bytes": written.size}
        if key := self.keys.get(table.name):
            resource["schema"]["primaryKey"] = key
        return resource

    def descriptor(self, resources: list[dict]) -> dict:
        p = self.publication
        return {
            "name": "digital-development-warehouse",
            "id": p.id,
            "title": f"Digital-development data warehouse, publication {p.id}",
            "description": (
                "Public indicators of e-government and connectivity for every country, with a focus on the five "
                "Central Asian republics: the published tables of one publication of the warehouse, as published."
            ),
            "created": p.published_at,
            "publication": {
                "id": p.id,
                "run_id": p.run_id,
                "published_at": p.published_at,
                "code_fingerprint": p.code_fingerprint,
                "inputs": p.inputs,
            },
            "citation": self.citation(),
            "licenses": self.licences(),
            # Each upstream file as marts.source_snapshots records it; its file name where it has no title.
            "sources": [
                {"title": s["file_name"]} | {k: v for k, v in s.items() if v is not None} | _path(s["upstream_url"])
                for s in self.sources
            ],
            "resources": resources,
        }

    def citation(self) -> str:
        """The suggested citation: the publication by its id, and the upstreams' own citations."""
        p = self.publication
        upstream = "; ".join(dict.fromkeys(s["citation"] for s in self.sources if s["citation"]))
        return (
            f"Digital-development data warehouse, publication {p.id} (published {p.published_at[:19]}Z). "
            f"Built from: {upstream}."
        )

    def licences(self) -> list[dict]:
        """Each upstream's terms, as its snapshots state them; the link its terms give, or else the
        package's README, which carries them word for word."""
        terms = dict.fromkeys((s["producer"], s["licence"]) for s in self.sources if s["licence"])
        return [
            {"title": f"{producer}: {licence}", "path": next(iter(_URL.findall(licence)), "README.md")}
            for producer, licence in terms
        ]

    def readme(self, descriptor: dict) -> str:
        p = self.publication
        rows = {r["name"]: r for r in descriptor["resources"]}
        tables = "\n".join(
            f"| `{rows[t.name]['path']}` | {t.row_count:,} | {', '.join(rows[t.name]['schema'].get('primaryKey', [])) or '-'} "
            f"| {' '.join(t.description.replace('|', '/').split())} |"
            for t in self.tables
        )
        licences = "\n".join(f"- {licence['title']}" for licence in descriptor["licenses"])
        return f"""# {descriptor["title"]}

{descriptor["description"]}

Publication `{p.id}`, published {p.published_at} by run `{p.run_id}`. `datapackage.json` describes
every table (fields, types, descriptions, keys), the upstream files it was built from (sha256,
origin, licence, citation) and the publication's input fingerprints; `frictionless validate
datapackage.json` checks the files against it.

## Tables

| file | rows | key | description |
|---|---:|---|---|
{tables}

## How to cite

{descriptor["citation"]}

Cite the publication by its id: the warehouse that published it answers
`warehouse query --publication {p.id}` with the same numbers while it keeps it.

## Licences

The warehouse adds no terms of its own; each upstream's terms, as its snapshots record them:

{licences}
"""


def _once(data: bytes) -> Iterator[bytes]:
    yield data


def _path(url: str | None) -> dict:
    return {"path": url} if url else {}


class _Written:
    """The bytes of one file as they pass: how many, and their sha256."""

    def __init__(self):
        self.digest, self.size = hashlib.sha256(), 0

    def counting(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        try:
            for piece in pieces:
                self.digest.update(piece)
                self.size += len(piece)
                yield piece
        finally:
            pieces.close()  # its table's query, closed now, not when the collector gets to it


def _field(name: str, kind: str, description: str, as_text: bool) -> dict:
    field = {"name": name, "type": "string" if as_text else _field_type(kind)}
    if description:
        field["description"] = description
    if field["type"] == "datetime":
        field["format"] = "any"  # Arrow writes "2026-12-07 19:35:17.123456", not only ISO 8601's "T" form
    return field


def _field_type(kind: str) -> str:
    base = kind.split("(")[0]
    if base in _INTEGERS:
        return "integer"
    if base in _NUMBERS:
        return "number"
    if kind.endswith("]"):
        return "array"
    if base in ("STRUCT", "MAP"):
        return "object"
    named = {"BOOLEAN": "boolean", "VARCHAR": "string", "DATE": "date", "TIME": "time"}
    return named.get(base, "datetime" if base.startswith("TIMESTAMP") else "any")


def zipped(files: Iterator[tuple[str, Iterator[bytes]]], created: datetime) -> Iterator[bytes]:
    """The files as one zip, piece by piece (the standard library writes to a stream it cannot seek,
    with each member's sizes after its data)."""
    drain = formats.Drain()
    with zipfile.ZipFile(drain, "w") as archive:
        for path, pieces in files:
            member = zipfile.ZipInfo(path, created.timetuple()[:6])
            # Parquet is compressed already; text is not.
            member.compress_type = zipfile.ZIP_STORED if path.endswith(".parquet") else zipfile.ZIP_DEFLATED
            try:
                with archive.open(member, "w", force_zip64=True) as writer:
                    for piece in pieces:
                        writer.write(piece)
                        if taken := drain.take():
                            yield taken
            finally:
                pieces.close()
            yield drain.take()
    yield drain.take()


def export(settings: Settings, publication: Publication, published: Path, target: Path, fmt: str) -> list[str]:
    """Write the package of ``publication`` (its file ``published``) into the folder ``target``,
    which must not exist or be empty, and must lie outside the warehouse's home. The files are
    written into a folder beside it, renamed into place once whole; returns their paths."""
    target = target.absolute()
    refusal = _refusal(settings, target)
    if refusal:
        raise PackageRefused(refusal)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{TEMPORARY_PREFIX}{target.name}.", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # as a folder made by mkdir: mkdtemp's is the owner's alone
    try:
        if not published.exists():  # retired since it was found
            raise PackageRefused(f"publication {publication.id} was removed by retention as it was being exported")
        with connect(published) as connection:
            written = _write(Package(connection, publication, fmt).files(), staging)
        if target.is_dir():
            target.rmdir()  # empty, as checked: replaced by the whole package
        os.replace(staging, target)
        fsync(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written


def _write(files: Iterator[tuple[str, Iterator[bytes]]], folder: Path) -> list[str]:
    written = []
    for path, pieces in files:
        file = folder / path
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            with file.open("wb") as handle:
                for piece in pieces:
                    handle.write(piece)
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            pieces.close()
        written.append(path)
    return written


def _refusal(settings: Settings, target: Path) -> str | None:
    if target.is_symlink():
        return f"{target} is a symbolic link: give a new or empty folder itself"
    resolved = target.resolve()
    for guarded in (settings.home, settings.snapshots_dir):
        if resolved == guarded.resolve() or resolved.is_relative_to(guarded.resolve()):
            return (
                f"{target} is inside {guarded}: a package is written outside the warehouse, which only refreshes write"
            )
    if target.exists() and not target.is_dir():
        return f"{target} exists and is not a folder: give a new or empty folder"
    if target.is_dir() and any(target.iterdir()):
        return f"{target} exists and is not empty: give a new or empty folder, so no file of yours is replaced"
    return None
