select
    indicator_code,
    indicator_name,
    unit,
    weighting,
    vintage,
    vintage_kind,
    source_file,
    source_sha256
from {{ source('worldbank', 'indicators') }}
