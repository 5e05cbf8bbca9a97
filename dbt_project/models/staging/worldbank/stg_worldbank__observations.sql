select
    country_code,
    indicator_code,
    indicator_name,
    cast(year as {{ dbt.type_int() }}) as year,
    cast(value as double) as value,
    is_aggregate,
    vintage,
    source_file,
    cast(source_line as {{ dbt.type_int() }}) as source_line
from {{ source('worldbank', 'observations') }}
