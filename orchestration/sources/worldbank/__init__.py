"""World Bank World Development Indicators: the whole-database zip, bulk CSV files per indicator, or the API v2."""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.sources.spec import RawTable, SourceSpec, lazy, options_of, setting

NAME = "worldbank"


@dataclass(frozen=True)
class Options:
    api_url: str = setting("WORLDBANK_API_URL", "https://api.worldbank.org/v2")
    # Which indicators the warehouse requires, and how the live client talks to the API; the scale
    # benchmark points it at a synthetic list.
    config: Path = setting("WAREHOUSE_WORLDBANK_CONFIG", PROJECT_ROOT / "config" / "worldbank.toml")


def options(settings: Settings) -> Options:
    return options_of(settings, NAME, Options)


def _check_file(path: Path, settings: Settings) -> None:
    import duckdb

    from orchestration.sources.worldbank import parser

    key = parser.snapshot_key(path)
    if key == parser.WHOLE_DATABASE:
        parser.check_bulk_zip(path)
        return
    configured = {indicator.code for indicator in parser.load_config(options(settings).config)[0]}
    if key == "country":
        (parser.read_country_metadata_json if path.suffix == ".json" else parser.read_country_metadata_csv)(path)
    elif key in configured and path.suffix == ".json":
        parser.read_indicator_json(path)
    elif key in configured:
        with duckdb.connect() as connection:
            parser.read_indicator_csv(connection, path)
    else:
        raise parser.WorldBankParseError(
            f"{path.name}: not a bulk file of a configured indicator ({', '.join(sorted(configured))}) nor Metadata_Country_*.csv"
        )


SPEC = SourceSpec(
    name=NAME,
    title="World Bank WDI",
    description=(
        "The WDI snapshot set under warehouse/snapshots/worldbank/: the whole-database zip (WDI_CSV.zip), "
        "and bulk CSV files or saved API fetches of configured indicators, plus the country metadata, each with provenance."
    ),
    kinds=frozenset({"csv", "json", "zip"}),
    cron="0 6 5 * *",
    cadence="monthly, on the 5th",
    fresh_for=timedelta(days=45),
    raw_tables=(
        RawTable(
            "wdi_countries",
            "Region and income group per World Bank code; aggregates flagged.",
            suite="expectations.wdi_countries",
        ),
        RawTable(
            "wdi_indicators",
            "One row per series: its metadata, range rule, aggregation, vintage and the snapshot file it comes from.",
        ),
        RawTable(
            "wdi_observations",
            "Every non-empty value of every series, one row per (indicator, code, year), with its line; aggregates kept.",
            suite="expectations.wdi_observations",
        ),
    ),
    upstream="API v2 `lastupdated` of each configured indicator; only the indicators with a new release are fetched",
    file_names=r"WDI_CSV[A-Za-z0-9_.-]*\.zip|API_[A-Z0-9_.]+_(DS2|pivoted|live)[A-Za-z0-9_.-]*\.(csv|json)|Metadata_Country_[A-Za-z0-9_.-]+\.csv|country_live\.json",
    names_help=(
        "WDI_CSV.zip, API_<indicator code>_DS2_<...>.csv (a bulk file), Metadata_Country_<...>.csv, "
        "or a saved API fetch (API_<code>_live.json, country_live.json)"
    ),
    slot=lazy("orchestration.sources.worldbank.parser", "snapshot_key"),
    check_file=_check_file,
    fetch=lazy("orchestration.sources.worldbank.api", "fetch_changed"),
    load=lazy("orchestration.sources.worldbank.load", "load"),
    covers=lazy("orchestration.sources.worldbank.parser", "covers"),
)
