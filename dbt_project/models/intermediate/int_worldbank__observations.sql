-- WDI values of economies only: aggregates (World, regions, income groups, INX) never count as
-- countries, here or in any summary built on this.
select
    o.country_code as iso3,
    o.indicator_code,
    o.indicator_name,
    o.year,
    o.value,
    o.vintage,
    i.weighting,
    o.source_file,
    o.source_line
from {{ ref('stg_worldbank__observations') }} as o
inner join {{ ref('stg_worldbank__indicators') }} as i
    on o.indicator_code = i.indicator_code
where not o.is_aggregate
