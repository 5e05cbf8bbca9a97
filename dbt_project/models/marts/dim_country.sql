select
    iso3,
    country_name,
    un_region,
    un_subregion,
    is_central_asia
from {{ ref('int_countries') }}
