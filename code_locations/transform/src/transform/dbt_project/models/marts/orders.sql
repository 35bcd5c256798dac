{#- One column per method; stg_payments' accepted_values test keeps this list complete. -#}
{%- set payment_methods = ['credit_card', 'coupon', 'bank_transfer', 'gift_card'] -%}

with order_payments as (
    select
        order_id,
        {%- for method in payment_methods %}
        cast(sum(case when payment_method = '{{ method }}' then amount_cents else 0 end) as bigint)
            as {{ method }}_amount_cents,
        {%- endfor %}
        cast(sum(amount_cents) as bigint) as amount_cents
    from {{ ref('stg_payments') }}
    group by order_id
)

select
    orders.order_id,
    orders.customer_id,
    orders.order_date,
    orders.status,
    {%- for method in payment_methods %}
    coalesce(order_payments.{{ method }}_amount_cents, 0) as {{ method }}_amount_cents,
    {%- endfor %}
    coalesce(order_payments.amount_cents, 0) as amount_cents
from {{ ref('stg_orders') }} as orders
left join order_payments on order_payments.order_id = orders.order_id
