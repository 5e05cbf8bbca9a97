"""Great Expectations suites, one per raw table, kept as code.

Each module exposes ``TABLE`` (the raw table it guards) and ``batches(frame, gate)``, which returns
the DataFrames to validate (the table itself and frames derived from it, such as counts per survey
year) with their expectations. Every expectation carries the reason it exists as its
``description``, so the reason shows in the Dagster check and in the Data Docs report next to each
result.

A suite over a table too big for memory also exposes ``load(connection, code, reuse)``, which
returns the rows to validate (aggregates per part of the table, computed in DuckDB) and a line
saying what it aggregated, and ``keep(connection, code)``, which the gate calls once they pass. With
``reuse`` (any refresh but a full one), a part that passed before, unchanged and under the same code
(``code``, the code's fingerprint), is read from what ``keep`` stored rather than aggregated again;
the whole of the rows is validated either way (wdi_observations.py, per series).

Great Expectations is imported inside the functions that build and run suites, never at a
module's top: the import takes seconds (bench/NOTES.md), which every process loading the Dagster definitions
(the CLI, the UI's code server, `warehouse status`, a refresh with nothing to validate) would
otherwise pay.
"""
