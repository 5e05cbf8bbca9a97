select
    country_code,
    indicator_code,
    cast(year as {{ dbt.type_int() }}) as year,
    cast(value as double) as value,
    cast(source_line as {{ dbt.type_int() }}) as source_line
from {{ source('worldbank', 'observations') }}
