-- pct_change exists exactly when both values exist and the base is not zero.
select iso3, indicator, base_year, target_year
from {{ ref('egov_dynamics') }}
where (pct_change is null) <> (base_value is null or target_value is null or base_value = 0)
