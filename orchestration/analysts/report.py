"""The analyst report: one self-contained HTML page drawn from the published warehouse.

Plotly's JavaScript is embedded in the page (no CDN), so it opens offline. Every number on the
page is read from the published file, never typed in; what changed since the publication it
replaced, from the publication's record (publications.py), which the publish computed (publishing/diff.py).
"""

from __future__ import annotations

import html
from pathlib import Path

import duckdb
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from orchestration.publications import Publication
from orchestration.publishing.diff import summary_line

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.match { color: #1a7f37; } .mismatch { color: #cf222e; font-weight: bold; } .other { color: #9a6700; }
footer { margin-top: 3rem; font-size: 0.85rem; color: #555; } .note { font-size: 0.85rem; color: #555; }
"""
_MARK = {
    "match": ("match", "&#10003;"),
    "mismatch": ("mismatch", "&#10007;"),
    "lower_bound_ok": ("other", "&ge;"),
    "not_reproducible": ("other", "?"),
}


def write_report(published: Path, target: Path, record: Publication | None = None) -> Path:
    """Write ``target`` (index.html) from the published warehouse and its ``record``; returns its path."""
    with duckdb.connect(str(published), read_only=True) as connection:
        sections = [
            _figure_1(connection),
            _trajectories(connection),
            _audited_table(
                connection,
                "Table 1: EGDI of the five, 2012 and 2022",
                "table_1",
                "table1_egdi_central_asia",
                ["egdi_2022", "egdi_2012", "dynamics_10y_pct", "rank_2022", "rank_change_since_2012"],
            ),
            _audited_table(
                connection,
                "Table 3: E-Participation, the leaders of 2022 and the five",
                "table_3",
                "table3_e_participation",
                ["place_2022", "epi_2022", "epi_2012", "dynamics_10y_pct", "rank_change_since_2012"],
            ),
            _internet(connection),
            _provenance(connection),
        ]
        publication, published_at = connection.execute(
            "select publication_id, published_at from meta.publication"
        ).fetchall()[0]
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Digital transformation of Central Asia: the study recomputed</title>"
        f"<style>{_CSS}</style><script>{get_plotlyjs()}</script></head><body>"
        "<h1>Digital transformation of Central Asia: the study's numbers recomputed</h1>"
        f"<p class='note'>Drawn from publication <code id='publication'>{publication}</code> of the warehouse, "
        f"published {published_at:%Y-%m-%d %H:%M} UTC (cite it by its id; <code>warehouse query --publication {publication}</code> "
        "queries it while it is kept). "
        "&#10003; the printed number matches the raw data at its printed precision; &#10007; it does not; "
        "&ge; a printed lower bound that holds; ? no independent source.</p>"
        + _changes(record)
        + "".join(sections)
        + "</body></html>"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target


def _changes(record: Publication | None) -> str:
    """Which publication this one replaced, and what changed: `warehouse publications diff` has it all."""
    if record is None or not record.replaces:
        return "<p class='note' id='changes'>The first publication of this warehouse.</p>"
    rows = "".join(
        f"<tr><td><code>{html.escape(table)}</code></td><td>{change['status']}</td><td>{change['rows']:,}</td></tr>"
        for table, change in record.changes.get("tables", {}).items()
    )
    return (
        f"<p class='note' id='changes'>It replaced publication <code>{record.replaces}</code>: "
        f"{html.escape(summary_line(record.changes))} (rows added, removed or changed; "
        f"<code>warehouse publications diff {record.replaces} {record.id}</code> shows which).</p>"
        + (f"<table><tr><th>table</th><th>change</th><th>rows</th></tr>{rows}</table>" if rows else "")
    )


def _chart(figure: go.Figure, div_id: str) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displayModeBar": False})


def _figure_1(connection: duckdb.DuckDBPyConnection) -> str:
    frame = connection.execute("select survey_year, group_name, mean_egdi from paper.figure_1 order by 1, 2").df()
    latest = frame[frame.survey_year == frame.survey_year.max()].sort_values("mean_egdi")
    latest["highlight"] = latest.group_name.eq("Central Asia").map({True: "Central Asia", False: "UN region"})
    bars = px.bar(
        latest,
        x="mean_egdi",
        y="group_name",
        color="highlight",
        orientation="h",
        color_discrete_map={"Central Asia": "#d62728", "UN region": "#8c9db5"},
        labels={"mean_egdi": "mean EGDI", "group_name": ""},
        title=f"Mean EGDI by region, {latest.survey_year.iloc[0]}",
    )
    trends = px.line(
        frame,
        x="survey_year",
        y="mean_egdi",
        facet_col="group_name",
        facet_col_wrap=3,
        markers=True,
        labels={"mean_egdi": "mean EGDI", "survey_year": ""},
        title="Mean EGDI 2003-2024, each region and Central Asia",
    )
    trends.for_each_trace(
        lambda trace: trace.update(line_color="#d62728") if "Central Asia" in trace.hovertemplate else None
    )
    return "<h2>Figure 1: EGDI by region</h2>" + _chart(bars, "figure-1-latest") + _chart(trends, "figure-1-trends")


def _trajectories(connection: duckdb.DuckDBPyConnection) -> str:
    frame = connection.execute(
        "select c.country_name as country, s.survey_year, s.egdi, s.egdi_rank, s.epi, s.epi_rank "
        "from marts.egov_scores s join marts.dim_country c using (iso3) where c.is_central_asia order by 1, 2"
    ).df()
    charts = []
    for index, rank in (("egdi", "egdi_rank"), ("epi", "epi_rank")):
        figure = px.line(
            frame,
            x="survey_year",
            y=index,
            color="country",
            markers=True,
            hover_data=[rank],
            labels={"survey_year": "", index: index.upper(), rank: "rank"},
            title=f"{index.upper()} of the five, 2003-2024 (hover for the rank)",
        )
        charts.append(_chart(figure, f"trajectory-{index}"))
    return "<h2>The five, survey by survey</h2>" + "".join(charts)


def _audited_table(connection, title: str, item: str, printed_seed: str, measures: list[str]) -> str:
    recomputed = connection.execute(f"select * from paper.{item} order by {measures[0]}").df()
    audit = (
        connection.execute("select country, measure, printed_value, status from paper.audit where item = ?", [item])
        .df()
        .set_index(["country", "measure"])
    )
    header = "".join(f"<th>{html.escape(m)}</th>" for m in measures)
    rows = []
    for _, row in recomputed.iterrows():
        cells = []
        for measure in measures:
            value = row[measure]
            shown = (
                ""
                if pd.isna(value)
                else (
                    f"{value:.4f}"
                    if "egdi" in measure or "epi" in measure
                    else f"{value:.1f}"
                    if "dynamics" in measure
                    else f"{int(value)}"
                )
            )
            key = (row["country"], measure)
            if key in audit.index:
                printed = audit.loc[key]
                css, mark = _MARK[printed.status]
                shown += (
                    f" <span class='{css}' title='{printed.status}'>(printed {printed.printed_value:g} {mark})</span>"
                )
            cells.append(f"<td>{shown}</td>")
        rows.append(f"<tr><td>{html.escape(row['country'])}</td>{''.join(cells)}</tr>")
    return f"<h2>{html.escape(title)}</h2><table><tr><th>country</th>{header}</tr>{''.join(rows)}</table>"


def _internet(connection: duckdb.DuckDBPyConnection) -> str:
    frame = connection.execute(
        "select country, datareportal_pct, datareportal_qualifier, wb_internet_users_pct, flag from paper.internet_penetration order by 1"
    ).df()
    long = frame.melt(
        id_vars="country",
        value_vars=["datareportal_pct", "wb_internet_users_pct"],
        var_name="source",
        value_name="percent",
    )
    long["source"] = long.source.map(
        {"datareportal_pct": "DataReportal (as the study cites it)", "wb_internet_users_pct": "World Bank, 2022"}
    )
    figure = px.bar(
        long,
        x="country",
        y="percent",
        color="source",
        barmode="group",
        title="Internet penetration 2022 by source, % of population",
    )
    rows = "".join(
        f"<tr><td>{html.escape(r.country)}</td><td>{_datareportal_cell(r)}</td>"
        f"<td>{'no value' if pd.isna(r.wb_internet_users_pct) else f'{r.wb_internet_users_pct:.1f}'}</td><td>{r.flag or ''}</td></tr>"
        for r in frame.itertuples()
    )
    table = f"<table><tr><th>country</th><th>DataReportal</th><th>World Bank</th><th>flag</th></tr>{rows}</table>"
    return "<h2>Internet penetration by source</h2>" + _chart(figure, "internet-penetration") + table


def _datareportal_cell(row) -> str:
    """DataReportal's figure as printed: '> 70' where the report says "more than"."""
    if pd.isna(row.datareportal_pct):
        return ""
    return ("&gt; " if row.datareportal_qualifier == "more_than" else "") + f"{row.datareportal_pct:g}"


def _provenance(connection: duckdb.DuckDBPyConnection) -> str:
    rows = connection.execute(
        "select source, any_value(producer), min(vintage), max(vintage), any_value(licence), any_value(citation), count(*) "
        "from marts.source_snapshots group by source order by source"
    ).fetchall()
    items = "".join(
        f"<li><b>{html.escape(source)}</b>: {html.escape(producer)}. Vintage {html.escape(low)}"
        f"{'' if low == high else ' to ' + html.escape(high)}; {files} files. Licence: {html.escape(licence)}. "
        f"Cite as: {html.escape(citation)}.</li>"
        for source, producer, low, high, licence, citation, files in rows
    )
    return f"<footer><h2>Sources</h2><ul>{items}</ul><p>Every file, its sha256 and where it was obtained: marts.source_snapshots.</p></footer>"
