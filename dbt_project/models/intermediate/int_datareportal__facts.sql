-- One fact per (country, report year, metric): the same figure quoted by several documents is one
-- fact with several citations. Conflicting values never get here: the raw asset refuses them.
select
    iso3,
    report_year,
    metric,
    value,
    unit,
    qualifier,
    count(*) as n_citations,
    {{ dbt.listagg(
        dbt.concat(["quoted_in", "' <'", "quoted_url", "'> citing <'", "report_url", "'>'"]),
        "' | '",
        "order by quoted_in, quoted_url"
    ) }} as citations
from {{ ref('stg_datareportal__figures') }}
group by iso3, report_year, metric, value, unit, qualifier
