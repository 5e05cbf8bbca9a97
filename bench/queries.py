"""Analysts' typical queries on the published warehouse, timed direct and served (bench/served.py)."""

from __future__ import annotations

QUERIES = {
    "a country's history": "select * from marts.country_year_digital where iso3 = 'KAZ' order by year",
    "regional summary, one year": (
        "select grouping, group_name, n_reporting, coverage, mean_value, weighted_mean_value, median_value "
        "from marts.wdi_region_summary where year = 2022 and indicator_code = 'IT.NET.USER.ZS' order by grouping, group_name"
    ),
    "top 20 by an indicator": (
        "select o.iso3, c.country_name, o.value from marts.wdi_observations as o join marts.dim_country as c using (iso3) "
        "where o.indicator_code = 'IT.NET.USER.ZS' and o.year = 2022 order by o.value desc limit 20"
    ),
    "EGDI joined with internet users": (
        "select e.iso3, e.egdi, w.value as internet_users_pct from marts.egov_scores as e "
        "join marts.wdi_observations as w on w.iso3 = e.iso3 and w.year = e.survey_year and w.indicator_code = 'IT.NET.USER.ZS' "
        "where e.survey_year = 2022 order by e.egdi desc"
    ),
    "one country's dynamics": "select * from marts.egov_dynamics where iso3 = 'UZB' order by indicator, base_year, target_year",
}
