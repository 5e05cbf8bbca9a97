select
    iso3,
    country_name,
    un_region,
    un_subregion,
    is_central_asia,
    wb_region,
    wb_income_group,
    is_un_member,
    is_wb_economy
from {{ ref('int_countries') }}
