"""What an invoice's lines say: each line's part in the totals, and whether they add up."""

from typing import Any

from billing.models import BillingSource, Invoice, InvoiceStatus

LINE_KINDS = ("item", "discount", "credit", "tax")


def line_kind(line: dict[str, Any]) -> str:
    """A line's part in the totals: ``item`` (adds to the subtotal), ``discount`` (a code's
    reduction), ``credit`` (paid unused time or a credit balance taken off) or ``tax``.
    Lines written before kinds were recorded are read from their shape."""
    kind = line.get("kind")
    if kind in LINE_KINDS:
        return str(kind)
    if "tax_rate" in line:
        return "item"  # an order's line: its own discount and tax are fields of the line
    description = str(line.get("description") or "")
    if description.startswith("Tax"):
        return "tax"
    amount = int(line.get("amount") or 0)
    if amount < 0:
        return (
            "credit"
            if ("unused" in description.lower() or description.startswith("Credit"))
            else "discount"
        )
    return "item"


def reconciliation_problems(invoice: Invoice) -> list[str]:
    """What does not add up on ``invoice`` (empty when everything does): its item lines add
    up to the subtotal, its discount and credit lines (and an order line's own discount) to
    the discount, its tax lines (and an order line's own tax) to the tax; subtotal -
    discount + tax = total; paid + due = total unless it is void. Stripe's invoices are
    Stripe's arithmetic; only their totals are checked."""
    problems = []
    if invoice.subtotal - invoice.discount_amount + invoice.tax != invoice.total:
        problems.append(
            f"subtotal {invoice.subtotal} - discount {invoice.discount_amount} + "
            f"tax {invoice.tax} != total {invoice.total}"
        )
    if invoice.status != InvoiceStatus.VOID and (
        invoice.amount_paid + invoice.amount_due != invoice.total
    ):
        problems.append(
            f"paid {invoice.amount_paid} + due {invoice.amount_due} != total {invoice.total}"
        )
    if invoice.billing_source == BillingSource.STRIPE:
        return problems
    sums = dict.fromkeys(LINE_KINDS, 0)
    for line in invoice.lines or []:
        kind = line_kind(line)
        amount = int(line.get("amount") or 0)
        sums[kind] += -amount if kind in ("discount", "credit") else amount
        if "tax_rate" in line:
            sums["discount"] += int(line.get("discount") or 0)
            sums["tax"] += int(line.get("tax") or 0)
    if sums["item"] != invoice.subtotal:
        problems.append(f"item lines {sums['item']} != subtotal {invoice.subtotal}")
    if sums["discount"] + sums["credit"] != invoice.discount_amount:
        problems.append(
            f"discount and credit lines {sums['discount'] + sums['credit']} != "
            f"discount {invoice.discount_amount}"
        )
    if sums["tax"] != invoice.tax:
        problems.append(f"tax lines {sums['tax']} != tax {invoice.tax}")
    return problems
