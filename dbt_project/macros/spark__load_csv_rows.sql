{#- dbt-spark's seed loader binds an empty CSV cell as the text 'None', so a seed on Spark would
    hold 'None' where DuckDB holds NULL. This copy of it writes NULL instead; dbt's dispatch takes a
    root-project macro of the same name first.
    Copied from: dbt-spark 1.11.0, dbt/include/spark/macros/materializations/seed.sql
    Upstream macro sha256: f4537e4b690928d79acb8e1f9de5fdd8ad0adb0bc1e2128d8daa79b67fb3e24b
    tests/test_spark.py compares that with the installed dbt-spark's: re-copy when it differs. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {% set batch_size = get_batch_size() %}
  {% set column_override = model['config'].get('column_types', {}) %}
  {% set statements = [] %}
  {% for chunk in agate_table.rows | batch(batch_size) %}
      {% set bindings = [] %}
      {% for row in chunk %}
          {% for value in row %}
              {% if value is not none %}{% do bindings.append(value) %}{% endif %}
          {% endfor %}
      {% endfor %}
      {% set sql %}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for col_name in agate_table.column_names -%}
                  {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                  {%- if row[loop.index0] is none -%} cast(null as {{ type }}) {%- else -%} cast({{ get_binding_char() }} as {{ type }}) {%- endif -%}
                  {%- if not loop.last %},{% endif -%}
              {%- endfor -%})
              {%- if not loop.last %},{% endif %}
          {%- endfor %}
      {% endset %}
      {% do adapter.add_query(sql, bindings=bindings, abridge_sql_log=True) %}
      {% if loop.index0 == 0 %}
          {% do statements.append(sql) %}
      {% endif %}
  {% endfor %}
  {{ return(statements[0]) }}
{% endmacro %}
