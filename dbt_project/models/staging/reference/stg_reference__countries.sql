select
    iso3,
    name_short as country_name_short,
    name_official as country_name_official,
    un_region,
    un_subregion,
    cast(un_member_since as {{ dbt.type_int() }}) as un_member_since
from {{ source('reference', 'countries') }}
