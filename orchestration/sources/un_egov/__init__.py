"""UN E-Government Survey: EGDI and its components, and E-Participation, one CSV per survey year."""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from orchestration.settings import Settings
from orchestration.sources.spec import RawTable, SourceSpec, lazy, options_of, setting

NAME = "un_egov"


@dataclass(frozen=True)
class Options:
    # Where a survey CSV can be downloaded, with {year}. UN DESA documents no stable URL, so a live
    # UN check happens only when an operator sets one.
    url_template: str = setting("UN_EGOV_URL_TEMPLATE", "")


def options(settings: Settings) -> Options:
    return options_of(settings, NAME, Options)


def _check_file(path: Path, settings: Settings) -> None:
    from orchestration.sources.un_egov.parser import parse_file

    parse_file(path)


SPEC = SourceSpec(
    name=NAME,
    title="UN E-Government Survey",
    description=(
        "The UN E-Government Survey Data Center exports, EGOV_DATA_<year>.csv, under "
        "warehouse/snapshots/un_egov/ with their provenance.json; a new survey year arrives "
        "through the inbox or, with UN_EGOV_URL_TEMPLATE set, from that URL."
    ),
    kinds=frozenset({"csv"}),
    cron="0 6 1 3 *",
    cadence="yearly, 1 March (surveys come every two years)",
    fresh_for=timedelta(days=2 * 366 + 30),
    raw_tables=(
        RawTable(
            "un_egov_surveys",
            "Every survey year parsed into one table, one row per (survey year, state), with provenance columns.",
            suite="expectations.un_egov_surveys",
        ),
    ),
    upstream="the next survey year's CSV at UN_EGOV_URL_TEMPLATE (a 404: not published yet); without it, the inbox only",
    file_names=r"EGOV_DATA_\d{4}\.csv",
    names_help="EGOV_DATA_<year>.csv",
    slot=lambda path: path.name,
    check_file=_check_file,
    fetch=lazy("orchestration.sources.un_egov.live", "fetch_new_surveys"),
    load=lazy("orchestration.sources.un_egov.load", "load"),
)
