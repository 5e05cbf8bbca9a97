-- Every country the warehouse knows: the UN member states the surveys list, and the World Bank's
-- economies (aggregates excluded), with UN M49 and World Bank classifications. A UN member keeps
-- the name the UN used in its latest survey, so tables read the way the UN (and the study) print
-- them; other economies take the World Bank's name.
with un_members as (
    select iso3, country_name
    from (
        select
            iso3,
            country_name,
            row_number() over (partition by iso3 order by survey_year desc) as recency
        from {{ ref('stg_un_egov__surveys') }}
    ) as named
    where recency = 1
),

wb_economies as (
    select country_code as iso3, country_name, wb_region, wb_income_group
    from {{ ref('stg_worldbank__countries') }}
    where not is_aggregate
),

all_codes as (
    select iso3 from un_members
    union
    select iso3 from wb_economies
)

select
    k.iso3,
    coalesce(u.country_name, w.country_name) as country_name,
    r.un_region,
    r.un_subregion,
    coalesce(r.un_subregion = 'Central Asia', false) as is_central_asia,
    w.wb_region,
    w.wb_income_group,
    u.iso3 is not null as is_un_member,
    w.iso3 is not null as is_wb_economy
from all_codes as k
left join un_members as u on k.iso3 = u.iso3
left join wb_economies as w on k.iso3 = w.iso3
left join {{ ref('stg_reference__countries') }} as r on k.iso3 = r.iso3
