-- Central Asia is exactly the five republics: no more, no fewer.
with expected as (
    select 'KAZ' as iso3 union all select 'KGZ' union all select 'TJK'
    union all select 'TKM' union all select 'UZB'
),
actual as (
    select iso3 from {{ ref('dim_country') }} where is_central_asia
)
select coalesce(e.iso3, a.iso3) as iso3
from expected as e
full outer join actual as a on e.iso3 = a.iso3
where e.iso3 is null or a.iso3 is null
