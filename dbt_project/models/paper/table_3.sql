-- The study's Table 3 recomputed: EPI of the leaders of 2022 (rank 15 or better, ties included)
-- and of the five. place_2022 is the standard competition rank: tied states share a place.
select
    d.target_rank as place_2022,
    c.country_name as country,
    d.target_value as epi_2022,
    d.base_value as epi_2012,
    d.pct_change as dynamics_10y_pct,
    d.rank_change as rank_change_since_2012
from {{ ref('egov_dynamics') }} as d
inner join {{ ref('dim_country') }} as c on d.iso3 = c.iso3
where d.indicator = 'epi' and d.base_year = 2012 and d.target_year = 2022
    and (d.target_rank <= 15 or c.is_central_asia)
