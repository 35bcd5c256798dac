{#- A model's schema is exactly its configured +schema (staging, marts), not dbt's
    default "<target schema>_<custom schema>": other locations read marts.orders. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
