-- Simple (unweighted) means over the states surveyed, as the UN reports its regional averages.
-- n_members counts every UN member state in the group (scores hold UN members only); n_reporting
-- only those with a value that year.
select
    s.survey_year,
    g.grouping,
    g.group_name,
    s.indicator,
    count(*) as n_members,
    count(s.value) as n_reporting,
    avg(s.value) as mean_value,
    percentile_cont(0.5) within group (order by s.value) as median_value,
    min(s.value) as min_value,
    max(s.value) as max_value,
    stddev_samp(s.value) as stddev_value
from {{ ref('int_un_egov__scores_long') }} as s
inner join {{ ref('int_country_groups') }} as g
    on s.iso3 = g.iso3
where g.grouping in ('world', 'un_region', 'un_subregion', 'central_asia')
group by s.survey_year, g.grouping, g.group_name, s.indicator
