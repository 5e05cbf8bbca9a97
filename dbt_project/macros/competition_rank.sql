{#- Standard competition ranking ("1224") of the highest values first, among rows with a value:
    ties share the best rank, as SQL RANK() does. Rows without a value get no rank. NULLs are
    partitioned off rather than ordered, because engines disagree on where NULLs sort. -#}
{% macro competition_rank(value, partition_by) -%}
    case when {{ value }} is not null then
        cast(rank() over (partition by {{ partition_by }}, ({{ value }} is null) order by {{ value }} desc) as {{ dbt.type_int() }})
    end
{%- endmacro %}
