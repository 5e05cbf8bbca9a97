{#- The WDI models are incremental on DuckDB, series by series (dbt_project.yml): a refresh deletes
    the series the build database lists in build_state.wdi_rebuild and appends what they hold now.
    The dbt step writes that list from per-series fingerprints (orchestration/wdi_rebuild.py).
    A full build, and Spark, take every series. -#}
{% macro wdi_rebuild(indicator_code) -%}
    {%- if is_incremental() -%}
        {{ indicator_code }} in (select indicator_code from build_state.wdi_rebuild)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro wdi_rebuild_delete() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ wdi_rebuild('indicator_code') }}
    {%- endif -%}
{%- endmacro %}
