with coverage as (
    select
        indicator_code,
        count(distinct iso3) as n_economies,
        min(year) as first_year,
        max(year) as last_year
    from {{ ref('int_worldbank__observations') }}
    group by indicator_code
)

select
    i.indicator_code,
    i.indicator_name,
    i.topic,
    i.unit_of_measure,
    i.aggregation_method,
    i.weighting,
    i.periodicity,
    i.short_definition,
    i.long_definition,
    i.source,
    i.license_type,
    i.vintage,
    i.source_file,
    coalesce(c.n_economies, 0) as n_economies,
    c.first_year,
    c.last_year
from {{ ref('stg_worldbank__indicators') }} as i
left join coverage as c on i.indicator_code = c.indicator_code
