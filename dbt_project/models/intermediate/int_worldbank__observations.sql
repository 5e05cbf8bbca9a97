-- WDI values of economies only: aggregates (World, regions, income groups, INX), and codes the
-- country list does not know, never count as countries, here or in any summary built on this.
-- Each value takes its series' name, aggregation, vintage and file, kept once per series in raw.
select
    o.country_code as iso3,
    o.indicator_code,
    i.indicator_name,
    o.year,
    o.value,
    i.vintage,
    i.weighting,
    i.source_file,
    o.source_line
from {{ ref('stg_worldbank__observations') }} as o
inner join {{ ref('stg_worldbank__indicators') }} as i
    on o.indicator_code = i.indicator_code
inner join {{ ref('stg_worldbank__countries') }} as c
    on o.country_code = c.country_code
where not c.is_aggregate
