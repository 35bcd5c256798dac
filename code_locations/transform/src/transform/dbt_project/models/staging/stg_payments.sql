select
    cast(payment_id as bigint) as payment_id,
    cast(order_id as bigint) as order_id,
    payment_method,
    cast(amount_cents as bigint) as amount_cents
from {{ source('raw', 'payments') }}
