select
    iso3,
    survey_year,
    egdi,
    osi,
    hci,
    tii,
    epi,
    egdi_rank,
    epi_rank,
    osi_rank,
    hci_rank,
    tii_rank,
    egdi_group,
    source_file,
    source_line
from {{ ref('int_un_egov__scores') }}
