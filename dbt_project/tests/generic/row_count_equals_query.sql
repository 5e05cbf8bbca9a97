{#- The model has exactly as many rows as expected_query, a scalar query whose column is named
    "expected", says it should. -#}
{% test row_count_equals_query(model, expected_query) %}
select a.actual, e.expected
from (select count(*) as actual from {{ model }}) as a
cross join ({{ expected_query }}) as e
where a.actual <> e.expected
{% endtest %}
