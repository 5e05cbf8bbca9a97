"""Great Expectations suites, one per raw table, kept as code.

Each module exposes ``TABLE`` (the raw table it guards) and ``batches(frame, gate)``, which returns
the DataFrames to validate (the table itself and frames derived from it, such as counts per survey
year) with their expectations. Every expectation carries the reason it exists in ``meta["why"]``,
so the reason shows in the Dagster check and in the Data Docs report next to each result.
"""
