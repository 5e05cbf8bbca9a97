select
    iso3,
    report_year,
    metric,
    value,
    unit,
    qualifier,
    n_citations,
    citations
from {{ ref('int_datareportal__facts') }}
