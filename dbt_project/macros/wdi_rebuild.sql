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

{#- The tests of the incremental WDI models whose config says `where: __wdi_rebuilt_series__`: on an
    incremental build they check only the series it rewrote (build_state.wdi_rebuild). The other
    series' rows are those the last finished build wrote and tested, untouched since; each such
    test's key holds indicator_code (a duplicate is within one series), and the tables their
    references point to are rebuilt whole, from inputs that would have made this build a full one
    had they changed (orchestration/transform/wdi_rebuild.py). It is the list the models rewrite
    (wdi_rebuild() above), so a `dbt build` by hand tests what it rewrites. A full build
    (--full-refresh), and Spark, test every row. dbt reads `where` as it parses, so the placeholder is replaced here, as
    the test runs (dbt's own get_where_subquery, otherwise as it is). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') or '' -%}
    {%- if '__wdi_rebuilt_series__' in where -%}
        {%- if target.type == 'duckdb' and not flags.FULL_REFRESH -%}
            {%- set rebuilt -%}
                indicator_code in (select indicator_code from {{ source('build_state', 'wdi_rebuild') }})
            {%- endset -%}
        {%- else -%}
            {%- set rebuilt = 'true' -%}
        {%- endif -%}
        {%- set where = where | replace('__wdi_rebuilt_series__', rebuilt) -%}
        {%- if where == 'true' -%}
            {%- do return(relation) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
