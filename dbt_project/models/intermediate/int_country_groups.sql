-- Which groups each country belongs to, one row per (country, grouping): the world, its UN region
-- and subregion, Central Asia, and its World Bank region and income group. Every summary groups
-- through this one table; a country without a classification is in no group of that kind.
with memberships as (
    select iso3, 'world' as grouping, 'World' as group_name from {{ ref('int_countries') }}
    union all
    select iso3, 'un_region', un_region from {{ ref('int_countries') }}
    union all
    select iso3, 'un_subregion', un_subregion from {{ ref('int_countries') }}
    union all
    select iso3, 'central_asia', 'Central Asia' from {{ ref('int_countries') }} where is_central_asia
    union all
    select iso3, 'wb_region', wb_region from {{ ref('int_countries') }}
    union all
    select iso3, 'wb_income_group', wb_income_group from {{ ref('int_countries') }}
)

select iso3, grouping, group_name
from memberships
where group_name is not null
