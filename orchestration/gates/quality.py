"""Run a suite from expectations/ over DataFrames with an ephemeral Great Expectations context.

GX validates DataFrames here, not DuckDB through SQLAlchemy (which fails in GX 1.x). Every run
renders GX's Data Docs into ``warehouse/quality/<table>/`` and reports each failed expectation
with its reason and a few offending rows, named by source file and line where the table has them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pandas as pd

from expectations.common import Batch, Gate

# Columns that identify a row to a person, in the order they are shown.
_LOCATORS = [
    "source_file",
    "source_line",
    "survey_year",
    "report_year",
    "year",
    "iso3",
    "country_code",
    "indicator_code",
    "metric",
]
EXAMPLES = 5


@dataclass(frozen=True)
class Failure:
    batch: str
    expectation: str
    why: str
    unexpected: int
    examples: list[str]

    def line(self) -> str:
        shown = "; ".join(self.examples)
        return f"[{self.batch}] {self.expectation}: {self.unexpected} unexpected ({shown}) -- {self.why}"


@dataclass(frozen=True)
class Outcome:
    table: str
    evaluated: int
    failures: list[Failure]
    docs_index: Path

    @property
    def success(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if self.success:
            return f"{self.table}: all {self.evaluated} expectations passed"
        return f"{self.table}: {len(self.failures)} of {self.evaluated} expectations failed: " + " | ".join(
            f.line() for f in self.failures
        )


def validate(suite: ModuleType, frame: pd.DataFrame, gate: Gate, docs_dir: Path) -> Outcome:
    import great_expectations as gx  # imported here, not at the top: see expectations/__init__.py
    from great_expectations.data_context.types.base import ProgressBarsConfig

    shutil.rmtree(docs_dir, ignore_errors=True)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no progress bars in refresh output
    context.add_data_docs_site(
        site_name="quality",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    source = context.data_sources.add_pandas(suite.TABLE)
    failures, evaluated = [], 0
    for batch in suite.batches(frame, gate):
        results = _run(context, source, suite.TABLE, batch)
        evaluated += len(results)
        failures += [_failure(batch, result) for result in results if not result.success]
    # Once for all batches: the site is re-rendered whole on every build. Only ours: an ephemeral
    # context also has a default site in a temporary folder, a few megabytes a gate, that
    # nothing reads and nothing deletes.
    context.build_data_docs(site_names=["quality"])
    return Outcome(suite.TABLE, evaluated, failures, docs_dir / "index.html")


def _run(context, source, table: str, batch: Batch) -> list:
    import great_expectations as gx  # imported here, not at the top: see expectations/__init__.py

    definition = source.add_dataframe_asset(batch.name).add_batch_definition_whole_dataframe(batch.name)
    expectation_suite = context.suites.add(
        gx.ExpectationSuite(name=f"{table}.{batch.name}", expectations=batch.expectations)
    )
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{table}.{batch.name}", data=definition, suite=expectation_suite)
    )
    # GX names each offending row by the columns that locate it for a person (file, line, keys).
    locators = [name for name in _LOCATORS if name in batch.frame.columns]
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"{table}.{batch.name}",
            validation_definitions=[validation],
            result_format={
                "result_format": "COMPLETE",
                **({"unexpected_index_column_names": locators} if locators else {}),
            },
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": batch.frame})
    return [expectation for run in result.run_results.values() for expectation in run.results]


def _failure(batch: Batch, result) -> Failure:
    config = result.expectation_config
    arguments = {
        k: v for k, v in config.kwargs.items() if k in ("column", "column_list", "min_value", "max_value", "value")
    }
    details = result.result or {}
    located = details.get("unexpected_index_list") or []
    if located and isinstance(located[0], dict):
        examples = [_describe(row, config.kwargs.get("column")) for row in located[:EXAMPLES]]
    else:
        examples = [
            str(value)
            for value in (details.get("partial_unexpected_list") or [details.get("observed_value")])[:EXAMPLES]
        ]
    return Failure(
        batch=batch.name,
        expectation=f"{config.type}({', '.join(f'{k}={v}' for k, v in arguments.items())})",
        why=config.description or "",
        unexpected=details.get("unexpected_count", 1) or 1,
        examples=examples,
    )


def _describe(row: dict, column: str | None) -> str:
    """One offending row as GX located it: its locator columns, then the value that failed."""
    located = ", ".join(f"{name} {row[name]}" for name in _LOCATORS if name in row and pd.notna(row[name]))
    value = f"{column}={row[column]}" if column and column in row else ""
    return ": ".join(part for part in (located, value) if part)
