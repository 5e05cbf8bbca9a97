-- The study's Figure 1 (no numbers printed): mean EGDI per UN region and for Central Asia, every survey.
select survey_year, group_name, mean_value as mean_egdi, n_reporting
from {{ ref('egov_region_summary') }}
where indicator = 'egdi' and grouping in ('un_region', 'central_asia')
