-- egdi_group follows the UN's thresholds on the same row's EGDI.
select iso3, survey_year, egdi, egdi_group
from {{ ref('egov_scores') }}
where egdi_group is distinct from case
    when egdi >= 0.75 then 'Very High'
    when egdi >= 0.50 then 'High'
    when egdi >= 0.25 then 'Middle'
    when egdi is not null then 'Low'
end
