select
    country_code,
    country_name,
    region as wb_region,
    income_group as wb_income_group,
    is_aggregate,
    special_notes,
    source_file
from {{ source('worldbank', 'countries') }}
