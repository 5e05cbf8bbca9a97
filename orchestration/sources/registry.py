"""Every upstream the warehouse knows, in one table: how often it changes, how stale it may get,
whether it has a live mode, and how a file dropped into its inbox is checked and filed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from orchestration.settings import Settings
from orchestration.sources import countries, datareportal, un_egov, worldbank


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    cron: str  # when its scheduled refresh runs (UTC)
    cadence: str  # the same, in words
    fresh_for: timedelta  # older than this since the last successful load: overdue
    live: bool
    check_inbox_file: Callable[[Path], None]  # parse a dropped file or raise saying why not
    snapshot_key: Callable[[Path], str | None]  # which snapshot a file replaces (same key, same slot)


def _check_un(path: Path) -> None:
    un_egov.parse_file(path)


def _check_worldbank(path: Path) -> None:
    key = worldbank.snapshot_key(path)
    configured = {indicator.code for indicator in worldbank.load_config(Settings.from_env().worldbank_config)[0]}
    if key == "country":
        worldbank.read_country_metadata_csv(path)
    elif key in configured:
        import duckdb

        worldbank.read_indicator_csv(duckdb.connect(), path)
    else:
        raise worldbank.WorldBankParseError(
            f"{path.name}: not a bulk file of a configured indicator ({', '.join(sorted(configured))}) nor Metadata_Country_*.csv"
        )


def _check_datareportal(path: Path) -> None:
    if path.name != datareportal.FIGURES_FILE:
        raise datareportal.DataReportalError(f"{path.name}: the inbox takes a new {datareportal.FIGURES_FILE} (the curated file)")
    datareportal.read_figures(path, set(countries.reference_table()["iso3"]))


SOURCES = {
    "un_egov": Source(
        "un_egov", "UN E-Government Survey", "0 6 1 3 *", "yearly, 1 March (surveys come every two years)",
        timedelta(days=2 * 366 + 30), live=False, check_inbox_file=_check_un, snapshot_key=lambda path: path.name,
    ),
    "worldbank": Source(
        "worldbank", "World Bank WDI", "0 6 5 * *", "monthly, on the 5th",
        timedelta(days=45), live=True, check_inbox_file=_check_worldbank, snapshot_key=worldbank.snapshot_key,
    ),
    "datareportal": Source(
        "datareportal", "DataReportal Digital reports", "0 6 20 2 *", "yearly, 20 February (reports appear in late January)",
        timedelta(days=400), live=True, check_inbox_file=_check_datareportal, snapshot_key=lambda path: path.name,
    ),
}
