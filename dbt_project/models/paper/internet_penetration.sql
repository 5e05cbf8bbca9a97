-- DataReportal and the World Bank side by side for the five, 2022, as the study discusses them.
select
    c.country_name as country,
    p.datareportal_pct,
    p.datareportal_qualifier,
    p.wb_internet_users_pct,
    p.difference_pct_points,
    p.nearest_wb_year,
    p.flag
from {{ ref('internet_penetration_comparison') }} as p
inner join {{ ref('dim_country') }} as c on p.iso3 = c.iso3
where c.is_central_asia and p.year = 2022
