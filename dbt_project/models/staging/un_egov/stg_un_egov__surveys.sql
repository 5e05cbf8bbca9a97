select
    cast(survey_year as {{ dbt.type_int() }}) as survey_year,
    iso3,
    country_name,
    cast(egdi_rank as {{ dbt.type_int() }}) as egdi_rank,
    cast(egdi as {{ dbt.type_float() }}) as egdi,
    cast(epi as {{ dbt.type_float() }}) as epi,
    cast(osi as {{ dbt.type_float() }}) as osi,
    cast(hci as {{ dbt.type_float() }}) as hci,
    cast(tii as {{ dbt.type_float() }}) as tii,
    surveyed as is_surveyed,
    source_file,
    source_sha256,
    cast(source_line as {{ dbt.type_int() }}) as source_line,
    loaded_at
from {{ source('un_egov', 'surveys') }}
