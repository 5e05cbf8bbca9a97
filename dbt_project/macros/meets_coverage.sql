{#- The coverage rule of the WDI regional aggregates: a mean or median is published only when at least
    var('wdi_min_coverage') of the group's economies report (``coverage``: their share, 0-1). -#}
{% macro meets_coverage(coverage) -%}
    {{ coverage }} >= {{ var('wdi_min_coverage') }}
{%- endmacro %}
