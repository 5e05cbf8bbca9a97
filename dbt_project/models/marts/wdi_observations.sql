select
    iso3,
    indicator_code,
    indicator_name,
    year,
    value,
    source_line
from {{ ref('int_worldbank__observations') }}
where {{ wdi_rebuild('indicator_code') }}
