"""DataReportal "Digital <year>" reports: a curated file of quoted figures, and the report pages."""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.sources.spec import RawTable, SourceSpec, lazy, options_of, setting

NAME = "datareportal"


@dataclass(frozen=True)
class Options:
    base_url: str = setting("DATAREPORTAL_BASE_URL", "https://datareportal.com")
    # Which report pages (countries, years) live checks ask for.
    config: Path = setting("WAREHOUSE_DATAREPORTAL_CONFIG", PROJECT_ROOT / "config" / "datareportal.toml")


def options(settings: Settings) -> Options:
    return options_of(settings, NAME, Options)


def _check_file(path: Path, settings: Settings) -> None:
    from orchestration.sources import countries
    from orchestration.sources.datareportal import parser

    if path.name == parser.FIGURES_FILE:
        parser.read_figures(path, set(countries.reference_table()["iso3"]))
        return
    pages = parser.configured_pages(parser.load_config(options(settings).config))
    if path.name not in pages:
        raise parser.DataReportalError(
            f"{path.name}: DataReportal takes {parser.FIGURES_FILE} (the curated file) or a report page "
            "digital-<year>-<slug>.html of a configured country and year"
        )
    year, country = pages[path.name]
    parser.parse_report_page(path.read_bytes().decode("utf-8"), country, year, str(path))


SPEC = SourceSpec(
    name=NAME,
    title="DataReportal Digital reports",
    description=(
        "warehouse/snapshots/datareportal/: the curated figures.csv (every figure with its citation) "
        "and the report pages saved by live checks, with provenance."
    ),
    kinds=frozenset({"csv", "html"}),
    cron="0 6 20 2 *",
    cadence="yearly, 20 February (reports appear in late January)",
    fresh_for=timedelta(days=400),
    raw_tables=(
        RawTable(
            "datareportal_figures",
            "Every cited DataReportal figure: one row per citation, validated, conflicts refused.",
            suite="expectations.datareportal_figures",
        ),
    ),
    upstream="the report page of every configured country and year (a 404: no report yet); a page whose bytes changed is staged",
    file_names=r"figures\.csv|digital-\d{4}-[a-z0-9-]+\.html",
    names_help="figures.csv, or digital-<year>-<country slug>.html",
    slot=lambda path: path.name,
    check_file=_check_file,
    fetch=lazy("orchestration.sources.datareportal.live", "fetch_changed_pages"),
    load=lazy("orchestration.sources.datareportal.load", "load"),
)
