{#- On Spark, the dbt sources are the raw layer as the Spark build exported it: one Parquet folder
    per raw table under WAREHOUSE_PARQUET_DIR (orchestration/transform/spark.py, export_raw_layer). Each becomes an
    external table in its source schema, so the models read source('worldbank', 'observations')
    on either engine. DuckDB reads the raw tables themselves, so there it does nothing. -#}
{% macro register_raw_parquet() %}
    {%- if target.type == 'spark' and execute %}
        {%- set schemas = [] %}
        {%- for source in graph.sources.values() %}
            {%- if source.schema not in schemas %}
                {%- do run_query('create database if not exists ' ~ source.schema) %}
                {%- do schemas.append(source.schema) %}
            {%- endif %}
            {%- set location = env_var('WAREHOUSE_PARQUET_DIR') ~ '/' ~ source.schema ~ '/' ~ source.identifier %}
            {%- do run_query('drop table if exists ' ~ source.schema ~ '.' ~ source.identifier) %}
            {%- do run_query('create table ' ~ source.schema ~ '.' ~ source.identifier ~ " using parquet location '" ~ (location | replace("\\", "\\\\") | replace("'", "\\'")) ~ "'") %}
        {%- endfor %}
    {%- endif %}
{% endmacro %}
