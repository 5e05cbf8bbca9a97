-- Per economy, indicator and year: the change over 1, 5 and 10 years, and the rank among the
-- economies reporting that indicator that year (highest value first, ties share the best rank).
-- The value N years back comes from a RANGE frame on the year, which finds that exact year or
-- nothing: one sort of the series instead of a self-join per span.
{%- set spans = [1, 5, 10] %}
{%- set series = 'partition by iso3, indicator_code order by year' %}
with ranked as (
    select
        iso3,
        indicator_code,
        year,
        value,
        {{ competition_rank('value', 'indicator_code, year') }} as value_rank
    from {{ ref('int_worldbank__observations') }}
    where {{ wdi_rebuild('indicator_code') }}
),

back as (
    select
        *
        {%- for span in spans %},
        max(value) over ({{ series }} range between {{ span }} preceding and {{ span }} preceding) as value_{{ span }}y_back,
        max(value_rank) over ({{ series }} range between {{ span }} preceding and {{ span }} preceding) as rank_{{ span }}y_back
        {%- endfor %}
    from ranked
)

select
    iso3,
    indicator_code,
    year,
    value,
    value_rank as rank,
    {%- for span in spans %}
    value - value_{{ span }}y_back as abs_change_{{ span }}y,
    case when value_{{ span }}y_back <> 0 then 100.0 * (value - value_{{ span }}y_back) / value_{{ span }}y_back end as pct_change_{{ span }}y,
    rank_{{ span }}y_back - value_rank as rank_change_{{ span }}y{{ ',' if not loop.last }}
    {%- endfor %}
from back
