{#- Use the configured schema name as is (staging, intermediate, marts), not dbt's default
    "<target schema>_<custom>", so analysts query marts.egov_scores. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
