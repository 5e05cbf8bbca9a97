-- Regional aggregates of every WDI series, with explicit coverage rules, because an aggregate over
-- part of a group misrepresents the group:
-- - mean and median are NULL when fewer than {{ var('wdi_min_coverage') }} of the group's economies report;
-- - the population-weighted mean is NULL when the reporting economies hold less than
--   {{ var('wdi_min_weight_coverage') }} of the group's population: counting economies would let a
--   missing India pass at 84 % of economies and 78.5 % of the world's people;
-- - a sum (population, for one) is NULL unless every member reports.
-- Members are World Bank economies; UN groupings count the economies in that UN region.
with members as (
    select g.grouping, g.group_name, g.iso3
    from {{ ref('int_country_groups') }} as g
    inner join {{ ref('int_countries') }} as c on g.iso3 = c.iso3
    where c.is_wb_economy
),

member_counts as (
    select grouping, group_name, count(*) as n_members
    from members
    group by grouping, group_name
),

-- Every economy's population, also when a refresh rebuilds only some series (wdi_rebuild): a
-- change of population itself rebuilds every series.
population as (
    select iso3, year, value as population
    from {{ ref('int_worldbank__observations') }}
    where indicator_code = '{{ var("population_indicator") }}'
),

group_population as (
    select m.grouping, m.group_name, p.year, sum(p.population) as population
    from members as m
    inner join population as p on m.iso3 = p.iso3
    group by m.grouping, m.group_name, p.year
),

-- Each value with its economy's population that year, joined once, before the values are
-- repeated into the six groupings.
weighted as (
    select o.indicator_code, o.weighting, o.year, o.iso3, o.value, p.population
    from {{ ref('int_worldbank__observations') }} as o
    left join population as p on o.iso3 = p.iso3 and o.year = p.year
    where {{ wdi_rebuild('o.indicator_code') }}
),

stats as (
    select
        w.indicator_code,
        w.year,
        m.grouping,
        m.group_name,
        max(w.weighting) as weighting,
        count(*) as n_reporting,
        avg(w.value) as mean_value,
        sum(w.value) as sum_value,
        sum(w.value * w.population) as weighted_sum,
        sum(case when w.value * w.population is not null then w.population end) as weight_total
    from weighted as w
    inner join members as m on w.iso3 = m.iso3
    group by w.indicator_code, w.year, m.grouping, m.group_name
),

-- The median from positions in a sorted group, not median(): DuckDB's holistic aggregate keeps every
-- group's values in memory, and six groupings of them in one query fail at 1 GB from 500 series on
-- (measured; each grouping alone fits, but a model is one query), while a window sort spills to disk. Same value: the middle one, or the mean of the middle two. One
-- grouping per branch, because one window over all six groupings also ran out of memory at 1 GB;
-- each economy is in at most one group of a grouping, so a branch sorts at most the observations.
medians as (
    {% for grouping in var('country_groupings') %}
    select indicator_code, year, grouping, group_name, avg(value) as median_value
    from (
        select
            o.indicator_code,
            o.year,
            m.grouping,
            m.group_name,
            o.value,
            row_number() over (partition by o.indicator_code, o.year, m.group_name order by o.value) as position,
            count(*) over (partition by o.indicator_code, o.year, m.group_name) as n_in_group
        from {{ ref('int_worldbank__observations') }} as o
        inner join members as m on o.iso3 = m.iso3
        where m.grouping = '{{ grouping }}' and {{ wdi_rebuild('o.indicator_code') }}
    ) as positioned
    where position in (floor((n_in_group + 1) / 2.0), ceil((n_in_group + 1) / 2.0))
    group by indicator_code, year, grouping, group_name
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

indicator_years as (
    select distinct indicator_code, year from {{ ref('int_worldbank__observations') }}
    where {{ wdi_rebuild('indicator_code') }}
),

grid as (
    select iy.indicator_code, iy.year, mc.grouping, mc.group_name, mc.n_members
    from indicator_years as iy
    cross join member_counts as mc
),

measured as (
    select
        g.year,
        g.grouping,
        g.group_name,
        g.indicator_code,
        g.n_members,
        coalesce(s.n_reporting, 0) as n_reporting,
        1.0 * coalesce(s.n_reporting, 0) / g.n_members as coverage,
        s.weighting,
        s.mean_value,
        md.median_value,
        s.sum_value,
        s.weighted_sum,
        s.weight_total,
        s.weight_total / gp.population as weight_coverage
    from grid as g
    left join stats as s
        on g.indicator_code = s.indicator_code
        and g.year = s.year
        and g.grouping = s.grouping
        and g.group_name = s.group_name
    left join medians as md
        on g.indicator_code = md.indicator_code
        and g.year = md.year
        and g.grouping = md.grouping
        and g.group_name = md.group_name
    left join group_population as gp
        on g.grouping = gp.grouping
        and g.group_name = gp.group_name
        and g.year = gp.year
)

select
    year,
    grouping,
    group_name,
    indicator_code,
    n_members,
    n_reporting,
    coverage,
    weight_coverage,
    case when coverage >= {{ var('wdi_min_coverage') }} then mean_value end as mean_value,
    case
        when weighting = 'population' and weight_coverage >= {{ var('wdi_min_weight_coverage') }} and weight_total > 0
            then weighted_sum / weight_total
    end as weighted_mean_value,
    case when coverage >= {{ var('wdi_min_coverage') }} then median_value end as median_value,
    case when weighting = 'sum' and n_reporting = n_members then sum_value end as sum_value
from measured
