-- Every pair of survey years for every state and indicator. rank_change is positive when the
-- state moved up (its rank number fell).
select
    b.iso3,
    b.indicator,
    b.survey_year as base_year,
    t.survey_year as target_year,
    b.value as base_value,
    t.value as target_value,
    t.value - b.value as abs_change,
    case
        when b.value <> 0 then 100.0 * (t.value - b.value) / b.value
    end as pct_change,
    b.value_rank as base_rank,
    t.value_rank as target_rank,
    b.value_rank - t.value_rank as rank_change
from {{ ref('int_un_egov__scores_long') }} as b
inner join {{ ref('int_un_egov__scores_long') }} as t
    on b.iso3 = t.iso3
    and b.indicator = t.indicator
    and b.survey_year < t.survey_year
