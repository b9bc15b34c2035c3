from core.system_config import define

define(
    "billing.bank_transfer_instructions",
    type=str,
    default="Pay by bank transfer to Acme Cloud Ltd, IBAN GB00 EXAM 0000 0000 0000 00, "
    "BIC EXAMGB00. Write the payment reference on the transfer.",
    description="Shown to customers who choose to pay an order by bank transfer.",
)
define(
    "billing.invoice_due_days",
    type=int,
    default=14,
    min_value=1,
    max_value=365,
    description="Days a customer has to pay a bank-transfer invoice.",
)
define(
    "billing.manual_unpaid_after_days",
    type=int,
    default=30,
    min_value=1,
    max_value=365,
    description="Days a manual subscription may stay past due before it becomes unpaid "
    "(and loses its plan).",
)
define(
    "billing.invoice_reminder_days",
    type=int,
    default=3,
    min_value=0,
    max_value=60,
    description="Days before a manual invoice's due date when the reminder e-mail is sent.",
)
define(
    "billing.refund_credit_clawback",
    type=str,
    default="proportional",
    choices=("none", "proportional", "all"),
    description="When a subscription payment is refunded or disputed, the plan credits its "
    "period granted that are taken back: none, proportional (the refunded share) "
    "or all. Never below zero: credits already spent stay spent and are listed "
    "for staff on the credit note.",
)
define(
    "business_logo_url",
    type=str,
    default="",
    description="The logo on receipts, invoices and billing e-mails: a path on this site "
    "(e.g. /static/brand/logo.png); empty for none.",
)
define(
    "billing.seller_country",
    type=str,
    default="GB",
    description="The seller's country (ISO two-letter code): where tax is charged when a "
    "customer's country is unknown, and what decides an EU reverse charge.",
)
