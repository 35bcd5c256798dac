with customer_orders as (
    select
        customer_id,
        min(order_date) as first_order,
        max(order_date) as most_recent_order,
        count(*) as number_of_orders,
        sum(amount_cents) as lifetime_value_cents
    from {{ ref('orders') }}
    group by customer_id
)

select
    customers.customer_id,
    customers.first_name,
    customers.last_name,
    customer_orders.first_order,
    customer_orders.most_recent_order,
    cast(coalesce(customer_orders.number_of_orders, 0) as bigint) as number_of_orders,
    cast(coalesce(customer_orders.lifetime_value_cents, 0) as bigint) as lifetime_value_cents
from {{ ref('stg_customers') }} as customers
left join customer_orders on customer_orders.customer_id = customers.customer_id
