-- WDI values of economies only: aggregates (World, regions, income groups, INX), and codes the
-- country list does not know, never count as countries, here or in any summary built on this.
-- Each value takes its series' name. How a series aggregates, its vintage and its file stay once per
-- series (stg_worldbank__indicators, wdi_indicators), so that a new release rewrites only the
-- series whose values changed (macros/wdi_rebuild.sql).
select
    o.country_code as iso3,
    o.indicator_code,
    i.indicator_name,
    o.year,
    o.value,
    o.source_line
from {{ ref('stg_worldbank__observations') }} as o
inner join {{ ref('stg_worldbank__indicators') }} as i
    on o.indicator_code = i.indicator_code
inner join {{ ref('stg_worldbank__countries') }} as c
    on o.country_code = c.country_code
where not c.is_aggregate
    and {{ wdi_rebuild('o.indicator_code') }}
