-- One row per (state, survey year, indicator): the shape summaries and dynamics work on.
-- EGDI keeps its published rank; the other indices carry the computed ones.
{%- set indicators = ['egdi', 'osi', 'hci', 'tii', 'epi'] %}
{% for indicator in indicators %}
select
    iso3,
    survey_year,
    '{{ indicator }}' as indicator,
    {{ indicator }} as value,
    {{ indicator }}_rank as value_rank
from {{ ref('int_un_egov__scores') }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
