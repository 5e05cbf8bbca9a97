-- DataReportal's internet penetration set against the World Bank's internet users (% of population).
-- Report publishers often carry an older official figure, so nearest_wb_year shows which World Bank
-- year the DataReportal number is closest to: a gap can be one of timing, not of measurement.
{%- set gap_threshold = 5 %}
with datareportal as (
    select iso3, report_year as year, value as datareportal_pct, qualifier as datareportal_qualifier
    from {{ ref('int_datareportal__facts') }}
    where metric = 'internet_penetration'
),

worldbank as (
    select iso3, year, value as wb_internet_users_pct
    from {{ ref('int_worldbank__observations') }}
    where indicator_code = 'IT.NET.USER.ZS'
),

keys as (
    select iso3, year from datareportal
    union
    select iso3, year from worldbank
),

nearest as (
    select
        d.iso3,
        d.year,
        w.year as nearest_wb_year,
        row_number() over (
            partition by d.iso3, d.year
            order by abs(w.wb_internet_users_pct - d.datareportal_pct), abs(w.year - d.year), w.year desc
        ) as closeness
    from datareportal as d
    inner join worldbank as w on d.iso3 = w.iso3
    where d.datareportal_qualifier is null
)

select
    k.iso3,
    k.year,
    d.datareportal_pct,
    d.datareportal_qualifier,
    w.wb_internet_users_pct,
    case when d.datareportal_qualifier is null then d.datareportal_pct - w.wb_internet_users_pct end as difference_pct_points,
    n.nearest_wb_year,
    case
        when d.datareportal_qualifier = 'more_than' and w.wb_internet_users_pct < d.datareportal_pct then 'lower_bound_contradicted'
        when d.datareportal_qualifier = 'less_than' and w.wb_internet_users_pct > d.datareportal_pct then 'upper_bound_contradicted'
        when d.datareportal_qualifier is null and abs(d.datareportal_pct - w.wb_internet_users_pct) > {{ gap_threshold }} then 'gap_over_5pp'
    end as flag
from keys as k
left join datareportal as d on k.iso3 = d.iso3 and k.year = d.year
left join worldbank as w on k.iso3 = w.iso3 and k.year = w.year
left join nearest as n on k.iso3 = n.iso3 and k.year = n.year and n.closeness = 1
