select
    iso3,
    indicator_code,
    indicator_name,
    year,
    value,
    vintage,
    source_file,
    source_line
from {{ ref('int_worldbank__observations') }}
