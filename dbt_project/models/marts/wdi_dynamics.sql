-- Per economy, indicator and year: the change over 1, 5 and 10 years, and the rank among the
-- economies reporting that indicator that year (highest value first, ties share the best rank).
-- The value N years back comes from a RANGE frame on the year, which finds that exact year or
-- nothing: one sort of the series instead of a self-join per span.
-- Economies and series are numbered first: the window sorts key by those integers and carry no
-- text, and the codes are joined back at the end (bench/NOTES.md).
{%- set spans = [1, 5, 10] %}
{%- set series = 'partition by economy_id, series_id order by year' %}
with economies as (
    select country_code as iso3, row_number() over (order by country_code) as economy_id
    from {{ ref('stg_worldbank__countries') }}
),

series as (
    select indicator_code, row_number() over (order by indicator_code) as series_id
    from {{ ref('stg_worldbank__indicators') }}
),

ranked as (
    select
        e.economy_id,
        s.series_id,
        o.year,
        o.value,
        {{ competition_rank('o.value', 's.series_id, o.year') }} as value_rank
    from {{ ref('int_worldbank__observations') }} as o
    inner join economies as e on o.iso3 = e.iso3
    inner join series as s on o.indicator_code = s.indicator_code
    where {{ wdi_rebuild('o.indicator_code') }}
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
    e.iso3,
    s.indicator_code,
    b.year,
    b.value,
    b.value_rank as rank,
    {%- for span in spans %}
    b.value - b.value_{{ span }}y_back as abs_change_{{ span }}y,
    case when b.value_{{ span }}y_back <> 0 then 100.0 * (b.value - b.value_{{ span }}y_back) / b.value_{{ span }}y_back end as pct_change_{{ span }}y,
    b.rank_{{ span }}y_back - b.value_rank as rank_change_{{ span }}y{{ ',' if not loop.last }}
    {%- endfor %}
from back as b
inner join economies as e on b.economy_id = e.economy_id
inner join series as s on b.series_id = s.series_id
