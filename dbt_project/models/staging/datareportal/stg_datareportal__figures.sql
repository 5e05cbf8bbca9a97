select
    iso3,
    country as country_name,
    cast(report_year as {{ dbt.type_int() }}) as report_year,
    metric,
    cast(value as double) as value,
    unit,
    nullif(qualifier, '') as qualifier,
    report_url,
    quoted_in,
    quoted_url,
    nullif(note, '') as note,
    source_kind,
    source_file,
    cast(source_line as {{ dbt.type_int() }}) as source_line
from {{ source('datareportal', 'figures') }}
