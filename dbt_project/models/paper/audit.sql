-- One row per number the study prints, set against the same number recomputed from the raw files.
-- A printed number with d decimals matches when it is within half a unit of its last decimal
-- (0.6844 printed for 0.68438 is a match); ranks must be equal. A lower bound ("more than 70%")
-- is checked against the World Bank's value for the same year.
{%- set table_1 = ['egdi_2022', 'egdi_2012', 'dynamics_10y_pct', 'rank_2022', 'rank_change_since_2012'] %}
{%- set table_3 = ['place_2022', 'epi_2022', 'epi_2012', 'dynamics_10y_pct', 'rank_change_since_2012'] %}
with printed as (
    {%- for measure in table_1 %}
    select 'table_1' as item, country, '{{ measure }}' as measure, {{ measure }} as printed_text, cast(null as {{ dbt.type_string() }}) as qualifier
    from {{ ref('table1_egdi_central_asia') }}
    union all
    {%- endfor %}
    {%- for measure in table_3 %}
    select 'table_3', country, '{{ measure }}', {{ measure }}, cast(null as {{ dbt.type_string() }})
    from {{ ref('table3_e_participation') }}
    union all
    {%- endfor %}
    select 'internet_penetration', country, 'internet_penetration_pct', internet_penetration_pct, qualifier
    from {{ ref('internet_penetration_2022') }}
    union all
    select claim_id, cast(null as {{ dbt.type_string() }}), 'value', value, cast(null as {{ dbt.type_string() }})
    from {{ ref('other_claims') }}
),

recomputed as (
    {%- for measure in table_1 %}
    select 'table_1' as item, country, '{{ measure }}' as measure, cast({{ measure }} as double) as recomputed_value,
        cast(null as {{ dbt.type_string() }}) as note
    from {{ ref('table_1') }}
    union all
    {%- endfor %}
    {%- for measure in table_3 %}
    select 'table_3', country, '{{ measure }}', cast({{ measure }} as double),
        {% if measure == 'place_2022' -%}
        case when count(*) over (partition by epi_2022) > 1
            then 'tied on EPI with another state: SQL RANK() gives both the same place, the study numbers ties one after another' end
        {%- else %}cast(null as {{ dbt.type_string() }}){% endif %}
    from {{ ref('table_3') }}
    union all
    {%- endfor %}
    select 'internet_penetration', country,
        'internet_penetration_pct',
        case when p.datareportal_qualifier is null then independent.value else p.wb_internet_users_pct end,
        case
            when p.datareportal_qualifier is not null
                then 'a lower bound: checked against the World Bank value for 2022'
            when independent.value is null
                then {{ dbt.concat(["'no source other than the study quotes this DataReportal figure; World Bank 2022: '",
                                    "coalesce(cast(round(p.wb_internet_users_pct, 1) as " ~ dbt.type_string() ~ "), 'no value')"]) }}
            else 'the same DataReportal figure quoted independently'
        end
    from {{ ref('internet_penetration') }} as p
    inner join {{ ref('dim_country') }} as c on p.country = c.country_name
    left join (
        select iso3, max(value) as value
        from {{ ref('stg_datareportal__figures') }}
        where metric = 'internet_penetration' and report_year = 2022 and quoted_in not like 'Maltabarov%'
        group by iso3
    ) as independent on c.iso3 = independent.iso3
    union all
    select claim, cast(null as {{ dbt.type_string() }}), 'value', recomputed_value, note
    from {{ ref('int_paper__claims') }}
),

compared as (
    select
        p.item,
        p.country,
        p.measure,
        cast(replace(p.printed_text, '+', '') as double) as printed_value,
        r.recomputed_value,
        p.qualifier,
        -- Decimals printed; an integer has none (and split_part's answer for a missing part differs by engine).
        0.5 * power(10, -coalesce({{ dbt.length(dbt.split_part("p.printed_text", "'.'", 2)) }}, 0)) + 1e-9 as tolerance,
        r.note
    from printed as p
    left join recomputed as r
        on p.item = r.item and p.measure = r.measure and coalesce(p.country, '') = coalesce(r.country, '')
    where trim(coalesce(p.printed_text, '')) <> ''
)

select
    item,
    country,
    measure,
    printed_value,
    recomputed_value,
    abs(printed_value - recomputed_value) as abs_diff,
    case
        when recomputed_value is null then 'not_reproducible'
        when qualifier = 'more_than' then case when recomputed_value >= printed_value then 'lower_bound_ok' else 'mismatch' end
        when abs(printed_value - recomputed_value) <= tolerance then 'match'
        else 'mismatch'
    end as status,
    case when measure like '%rank%' or measure like 'place%' then 0 else tolerance end as tolerance,
    case
        when measure = 'dynamics_10y_pct' and abs(printed_value - recomputed_value) > tolerance
            and abs(printed_value - sign(recomputed_value) * floor(abs(recomputed_value) * 10) / 10) < 1e-9
            then 'the printed value is the recomputed one truncated to one decimal, not rounded'
        when measure = 'dynamics_10y_pct' and abs(printed_value - recomputed_value) > 1
            then 'far from (EGDI 2022 / EGDI 2012 - 1) x 100 of the very indices the table prints'
        else note
    end as note
from compared
