{#- not_null where the model's contract does not enforce the column's not_null constraint. On DuckDB
    the contract is enforced and the constraint refuses a NULL as the table is built, so this test
    would be a second dbt node, and three more Dagster events, saying the same; it is disabled there.
    The Spark build, whose contract is not enforced, still tests it. -#}
{% test not_null_unless_enforced(model, column_name) %}
{{ config(enabled=target.type != 'duckdb') }}
{{ adapter.dispatch('test_not_null', 'dbt')(model, column_name) }}
{% endtest %}
