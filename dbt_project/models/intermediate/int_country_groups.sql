-- Which groups each state belongs to, one row per (state, grouping): the world, its UN region
-- and subregion, and Central Asia. Every summary groups through this one table.
select iso3, 'world' as grouping, 'World' as group_name from {{ ref('int_countries') }}
union all
select iso3, 'un_region' as grouping, un_region as group_name from {{ ref('int_countries') }}
union all
select iso3, 'un_subregion' as grouping, un_subregion as group_name from {{ ref('int_countries') }}
union all
select iso3, 'central_asia' as grouping, 'Central Asia' as group_name
from {{ ref('int_countries') }}
where is_central_asia
