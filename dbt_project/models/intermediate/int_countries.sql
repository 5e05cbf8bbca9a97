-- The UN member states, as the surveys list them, with their M49 regions. The name is the one
-- the UN used in its latest survey, so tables read the way the UN (and the study) print them.
with latest_name as (
    select
        iso3,
        country_name,
        row_number() over (partition by iso3 order by survey_year desc) as recency
    from {{ ref('stg_un_egov__surveys') }}
)

select
    n.iso3,
    n.country_name,
    c.un_region,
    c.un_subregion,
    c.un_subregion = 'Central Asia' as is_central_asia
from latest_name as n
left join {{ ref('stg_reference__countries') }} as c
    on n.iso3 = c.iso3
where n.recency = 1
