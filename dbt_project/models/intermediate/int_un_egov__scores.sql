-- Every member state in every survey year, surveyed or not, with the ranks the UN does not
-- publish computed among the states surveyed that year.
with survey_years as (
    select distinct survey_year from {{ ref('stg_un_egov__surveys') }}
),

grid as (
    select c.iso3, y.survey_year
    from {{ ref('int_countries') }} as c
    cross join survey_years as y
    where c.is_un_member
),

scores as (
    select
        g.iso3,
        g.survey_year,
        s.egdi,
        s.osi,
        s.hci,
        s.tii,
        s.epi,
        s.egdi_rank,
        s.source_file,
        s.source_line
    from grid as g
    left join {{ ref('stg_un_egov__surveys') }} as s
        on g.iso3 = s.iso3 and g.survey_year = s.survey_year and s.is_surveyed
)

select
    scores.*,
    {{ competition_rank('epi', 'survey_year') }} as epi_rank,
    {{ competition_rank('osi', 'survey_year') }} as osi_rank,
    {{ competition_rank('hci', 'survey_year') }} as hci_rank,
    {{ competition_rank('tii', 'survey_year') }} as tii_rank,
    case
        when egdi >= 0.75 then 'Very High'
        when egdi >= 0.50 then 'High'
        when egdi >= 0.25 then 'Middle'
        when egdi is not null then 'Low'
    end as egdi_group
from scores
