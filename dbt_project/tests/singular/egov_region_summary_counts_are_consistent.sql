-- No group reports more states than it has, and a group with reporters has statistics.
select survey_year, grouping, group_name, indicator
from {{ ref('egov_region_summary') }}
where n_reporting > n_members
    or (n_reporting > 0 and mean_value is null)
    or (n_reporting = 0 and mean_value is not null)
