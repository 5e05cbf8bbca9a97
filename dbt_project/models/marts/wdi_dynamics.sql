-- Per economy, indicator and year: the change over 1, 5 and 10 years, and the rank among the
-- economies reporting that indicator that year (highest value first, ties share the best rank).
{%- set spans = [1, 5, 10] %}
with ranked as (
    select
        iso3,
        indicator_code,
        year,
        value,
        {{ competition_rank('value', 'indicator_code, year') }} as value_rank
    from {{ ref('int_worldbank__observations') }}
)

select
    r.iso3,
    r.indicator_code,
    r.year,
    r.value,
    r.value_rank as rank,
    {%- for span in spans %}
    r.value - p{{ span }}.value as abs_change_{{ span }}y,
    case when p{{ span }}.value <> 0 then 100.0 * (r.value - p{{ span }}.value) / p{{ span }}.value end as pct_change_{{ span }}y,
    p{{ span }}.value_rank - r.value_rank as rank_change_{{ span }}y{{ ',' if not loop.last }}
    {%- endfor %}
from ranked as r
{%- for span in spans %}
left join ranked as p{{ span }}
    on r.iso3 = p{{ span }}.iso3
    and r.indicator_code = p{{ span }}.indicator_code
    and r.year - {{ span }} = p{{ span }}.year
{%- endfor %}
