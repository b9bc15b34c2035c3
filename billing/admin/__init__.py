"""The staff console for billing. Actions call services; money rows are read-only here.

Money is shown as people read it, in major units with its currency (``$711.00``, ``¥5,000``,
through ``core.money.format_money``), and typed the same way (``backoffice.forms.MoneyField``).

One module per topic: orders, invoices (with payments, refunds and credit notes),
subscriptions, discounts, promotion codes, tax, what Stripe sends (``stripe``, ``mirror``);
``common`` and ``payments`` hold what several of them use. Importing this package registers
them all.
"""

from billing.admin import (  # noqa: F401 - each module registers its model admins
    discounts,
    invoices,
    orders,
    promotions,
    stripe,
    subscriptions,
    tax,
)
