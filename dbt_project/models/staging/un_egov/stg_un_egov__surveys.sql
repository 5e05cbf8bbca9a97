select
    cast(survey_year as {{ dbt.type_int() }}) as survey_year,
    iso3,
    country_name,
    cast(egdi_rank as {{ dbt.type_int() }}) as egdi_rank,
    cast(egdi as double) as egdi,
    cast(epi as double) as epi,
    cast(osi as double) as osi,
    cast(hci as double) as hci,
    cast(tii as double) as tii,
    surveyed as is_surveyed,
    source_file,
    source_sha256,
    cast(source_line as {{ dbt.type_int() }}) as source_line,
    loaded_at
from {{ source('un_egov', 'surveys') }}
