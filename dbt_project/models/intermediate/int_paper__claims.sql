-- The study's other numeric claims, each recomputed by its own rule.
with egdi_2022 as (
    select c.iso3, s.egdi_rank, s.tii
    from {{ ref('egov_scores') }} as s
    inner join {{ ref('dim_country') }} as c on s.iso3 = c.iso3
    where s.survey_year = 2022
),

central_asia as (
    select survey_year, mean_value
    from {{ ref('egov_region_summary') }}
    where grouping = 'central_asia' and indicator = 'egdi'
),

kaz_epi as (
    select base_rank, rank_change
    from {{ ref('egov_dynamics') }}
    where iso3 = 'KAZ' and indicator = 'epi' and base_year = 2012 and target_year = 2022
)

select 'kaz_tii_2022' as claim, tii as recomputed_value, 'UN TII of Kazakhstan, 2022' as note from egdi_2022 where iso3 = 'KAZ'
union all
select 'central_asia_average_egdi', mean_value,
    {{ dbt.concat(["'simple mean EGDI of the five in 2022; it was '",
                   "cast(round((select mean_value from central_asia where survey_year = 2012), 4) as " ~ dbt.type_string() ~ ")",
                   "' in 2012 and '",
                   "cast(round((select min(mean_value) from central_asia), 4) as " ~ dbt.type_string() ~ ")",
                   "' at its lowest (2003): no survey year puts it near 0.4'"]) }}
from central_asia where survey_year = 2022
union all
select 'kaz_epi_rank_2012', base_rank, 'EPI rank of Kazakhstan, 2012 (tied with Singapore)' from kaz_epi
union all
select 'kaz_epi_rank_drop', rank_change, 'EPI rank change of Kazakhstan, 2012 to 2022' from kaz_epi
{%- for iso3, claim in [('KAZ', 'kaz'), ('UZB', 'uzb'), ('KGZ', 'kgz'), ('TJK', 'tjk'), ('TKM', 'tkm')] %}
union all
select '{{ claim }}_egdi_rank_2022', egdi_rank, 'EGDI rank, 2022' from egdi_2022 where iso3 = '{{ iso3 }}'
{%- endfor %}
