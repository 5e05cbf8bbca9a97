-- The study's Table 1 recomputed from the UN files: EGDI of the five in 2022 and 2012.
select
    c.country_name as country,
    d.target_value as egdi_2022,
    d.base_value as egdi_2012,
    d.pct_change as dynamics_10y_pct,
    d.target_rank as rank_2022,
    d.rank_change as rank_change_since_2012
from {{ ref('egov_dynamics') }} as d
inner join {{ ref('dim_country') }} as c on d.iso3 = c.iso3
where c.is_central_asia and d.indicator = 'egdi' and d.base_year = 2012 and d.target_year = 2022
