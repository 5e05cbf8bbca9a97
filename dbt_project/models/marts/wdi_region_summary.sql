-- Regional aggregates of every WDI series, with explicit coverage rules, because an aggregate over
-- part of a group misrepresents the group:
-- - mean and median are NULL when fewer than {{ var('wdi_min_coverage') }} of the group's economies report;
-- - the population-weighted mean is NULL when the reporting economies hold less than
--   {{ var('wdi_min_weight_coverage') }} of the group's population: counting economies would let a
--   missing India pass at 84 % of economies and 78.5 % of the world's people;
-- - a sum (population, for one) is NULL unless every member reports.
-- Members are World Bank economies; UN groupings count the economies in that UN region.
-- Series and groups are numbered first: the aggregates and sorts below key millions of groups by
-- integers, not by their codes and names, which halves what they hold and sort (bench/NOTES.md).
with members as (
    select g.grouping, g.group_name, g.iso3, dense_rank() over (order by g.grouping, g.group_name) as group_id
    from {{ ref('int_country_groups') }} as g
    inner join {{ ref('int_countries') }} as c on g.iso3 = c.iso3
    where c.is_wb_economy
),

member_counts as (
    select group_id, grouping, group_name, count(*) as n_members
    from members
    group by group_id, grouping, group_name
),

series as (
    select indicator_code, weighting, row_number() over (order by indicator_code) as series_id
    from {{ ref('stg_worldbank__indicators') }}
    where {{ wdi_rebuild('indicator_code') }}
),

-- Every economy's population, also when a refresh rebuilds only some series (wdi_rebuild): a
-- change of population itself rebuilds every series.
population as (
    select iso3, year, value as population
    from {{ ref('int_worldbank__observations') }}
    where indicator_code = '{{ var("population_indicator") }}'
),

group_population as (
    select m.group_id, p.year, sum(p.population) as population
    from members as m
    inner join population as p on m.iso3 = p.iso3
    group by m.group_id, p.year
),

-- Each value with its economy's population that year, joined once, before the values are
-- repeated into the six groupings.
weighted as (
    select s.series_id, o.year, o.iso3, o.value, p.population
    from {{ ref('int_worldbank__observations') }} as o
    inner join series as s on o.indicator_code = s.indicator_code
    left join population as p on o.iso3 = p.iso3 and o.year = p.year
),

stats as (
    select
        w.series_id,
        w.year,
        m.group_id,
        count(*) as n_reporting,
        avg(w.value) as mean_value,
        sum(w.value) as sum_value,
        sum(w.value * w.population) as weighted_sum,
        sum(case when w.value * w.population is not null then w.population end) as weight_total
    from weighted as w
    inner join members as m on w.iso3 = m.iso3
    group by w.series_id, w.year, m.group_id
),

-- The groups that meet the coverage rule: the others publish no median, so their values are not
-- sorted for one (about half of all values at 500 synthetic series). One row per series, year and
-- group, which DuckDB holds in memory since `stats` is read twice. The medians read it as a
-- semi-join (exists): as an inner join, DuckDB joined it to the groups first and probed every value
-- by its three codes, which cost more than the smaller sorts saved.
qualifying as (
    select st.series_id, st.year, st.group_id
    from stats as st
    inner join member_counts as mc on st.group_id = mc.group_id
    where {{ meets_coverage('1.0 * st.n_reporting / mc.n_members') }}
),

-- The median from positions in a sorted group, not median(): DuckDB's holistic aggregate keeps every
-- group's values in memory and runs out of it at 1 GB (one grouping of 1,500 series, even keyed by
-- integers), while a window sort spills to disk. Same value: the middle one, or the mean of the
-- middle two. One grouping per branch: each economy is in at most one group of a grouping, so a
-- branch sorts at most the observations, in memory.
medians as (
    {% for grouping in var('country_groupings') %}
    select series_id, year, group_id, avg(value) as median_value
    from (
        select
            s.series_id,
            o.year,
            m.group_id,
            o.value,
            row_number() over (partition by s.series_id, o.year, m.group_id order by o.value) as position,
            count(*) over (partition by s.series_id, o.year, m.group_id) as n_in_group
        from {{ ref('int_worldbank__observations') }} as o
        inner join series as s on o.indicator_code = s.indicator_code
        inner join members as m on o.iso3 = m.iso3
        where m.grouping = '{{ grouping }}'
            and exists (
                select 1 from qualifying as q
                where q.series_id = s.series_id and q.year = o.year and q.group_id = m.group_id
            )
    ) as positioned
    where position in (floor((n_in_group + 1) / 2.0), ceil((n_in_group + 1) / 2.0))
    group by series_id, year, group_id
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

-- Its own scan, not one of `weighted`: DuckDB would hold a CTE read twice in memory, whole.
series_years as (
    select distinct s.series_id, o.year
    from {{ ref('int_worldbank__observations') }} as o
    inner join series as s on o.indicator_code = s.indicator_code
),

measured as (
    select
        sy.year,
        mc.grouping,
        mc.group_name,
        s.indicator_code,
        mc.n_members,
        coalesce(st.n_reporting, 0) as n_reporting,
        1.0 * coalesce(st.n_reporting, 0) / mc.n_members as coverage,
        s.weighting,
        st.mean_value,
        md.median_value,
        st.sum_value,
        st.weighted_sum,
        st.weight_total,
        st.weight_total / gp.population as weight_coverage
    from series_years as sy
    inner join series as s on sy.series_id = s.series_id
    cross join member_counts as mc
    left join stats as st
        on sy.series_id = st.series_id
        and sy.year = st.year
        and mc.group_id = st.group_id
    left join medians as md
        on sy.series_id = md.series_id
        and sy.year = md.year
        and mc.group_id = md.group_id
    left join group_population as gp
        on mc.group_id = gp.group_id
        and sy.year = gp.year
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
    case when {{ meets_coverage('coverage') }} then mean_value end as mean_value,
    case
        when weighting = 'population' and weight_coverage >= {{ var('wdi_min_weight_coverage') }} and weight_total > 0
            then weighted_sum / weight_total
    end as weighted_mean_value,
    case when {{ meets_coverage('coverage') }} then median_value end as median_value,
    case when weighting = 'sum' and n_reporting = n_members then sum_value end as sum_value
from measured
