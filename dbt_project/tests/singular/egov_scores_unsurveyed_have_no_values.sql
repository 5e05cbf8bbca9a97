-- A state without an EGDI rank was not surveyed: it must carry no values, not zeros.
select iso3, survey_year
from {{ ref('egov_scores') }}
where egdi_rank is null
    and coalesce(egdi, osi, hci, tii, epi, epi_rank) is not null
