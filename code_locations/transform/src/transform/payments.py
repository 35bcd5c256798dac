# The payment methods the marts break totals down by; ingest's generator emits these.
PAYMENT_METHODS = ["credit_card", "coupon", "bank_transfer", "gift_card"]
