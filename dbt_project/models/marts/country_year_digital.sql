-- The table analysts join everything on: one row per (iso3, year) where any source has a value.
-- Each WDI indicator with a column here is named once, below; every configured indicator is in
-- wdi_observations whether it has a column or not.
{%- set wdi_columns = {
    'IT.NET.USER.ZS': 'internet_users_pct',
    'IT.CEL.SETS.P2': 'mobile_subs_per_100',
    'IT.NET.BBND.P2': 'fixed_broadband_per_100',
    'SP.POP.TOTL': 'population',
    'NY.GDP.PCAP.CD': 'gdp_per_capita_usd',
} %}
with wdi as (
    select
        iso3,
        year,
        {%- for code, column in wdi_columns.items() %}
        max(case when indicator_code = '{{ code }}' then value end) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('int_worldbank__observations') }}
    group by iso3, year
),

egov as (
    select iso3, survey_year as year, egdi, epi
    from {{ ref('int_un_egov__scores') }}
    where egdi is not null or epi is not null
),

keys as (
    select iso3, year from wdi
    union
    select iso3, year from egov
)

select
    k.iso3,
    k.year,
    {%- for column in wdi_columns.values() %}
    w.{{ column }},
    {%- endfor %}
    e.egdi,
    e.epi
from keys as k
left join wdi as w on k.iso3 = w.iso3 and k.year = w.year
left join egov as e on k.iso3 = e.iso3 and k.year = e.year
