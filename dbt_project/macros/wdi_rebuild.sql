{#- The WDI models are incremental on DuckDB, series by series (dbt_project.yml): a refresh deletes
    the series the build database lists in build_state.wdi_rebuild and appends what they hold now.
    The dbt step writes that list from per-series fingerprints (orchestration/transform/wdi_rebuild.py).
    A full build, and Spark, take every series. The list is a dbt source, named outside the
    is_incremental() branch so that parsing sees it: the lineage shows it as an input. -#}
{% macro wdi_rebuild(indicator_code) -%}
    {%- set rebuild_list = source('build_state', 'wdi_rebuild') -%}
    {%- if is_incremental() -%}
        {{ indicator_code }} in (select indicator_code from {{ rebuild_list }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro wdi_rebuild_delete() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ wdi_rebuild('indicator_code') }}
    {%- endif -%}
{%- endmacro %}
