"""The analysts' served door: `warehouse serve`, a read-only SQL endpoint and web console over the
kept publications, for analysts who do not sit at the machine that holds the warehouse.

Every query runs on the analysts' sandboxed connection (orchestration/analysts/sandbox.py), with its
time and row limits, after admission (admission.py). The service reads only the kept publications
(``publications/<id>.duckdb``, never written after they are kept), so it holds no lock a refresh or
an analyst's own client needs.
"""
