"""DataReportal "Digital <year>" reports: a curated file of quoted figures, and the report pages."""

from datetime import timedelta
from pathlib import Path

from orchestration.settings import Settings
from orchestration.sources.spec import SourceSpec, lazy

NAME = "datareportal"


def _check_file(path: Path, settings: Settings) -> None:
    from orchestration.sources import countries
    from orchestration.sources.datareportal import parser

    if path.name == parser.FIGURES_FILE:
        parser.read_figures(path, set(countries.reference_table()["iso3"]))
        return
    pages = parser.configured_pages(parser.load_config(settings.datareportal_config))
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
    raw_tables=("raw/datareportal_figures",),
    upstream="the report page of every configured country and year (a 404: no report yet); a page whose bytes changed is staged",
    file_names=r"figures\.csv|digital-\d{4}-[a-z0-9-]+\.html",
    names_help="figures.csv, or digital-<year>-<country slug>.html",
    slot=lambda path: path.name,
    check_file=_check_file,
    fetch=lazy("orchestration.sources.datareportal.live", "fetch_changed_pages"),
)
