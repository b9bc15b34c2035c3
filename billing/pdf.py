"""Invoice PDFs with ReportLab (pure pip, no system libraries)."""

from io import BytesIO
from types import SimpleNamespace

from billing.selectors import discount_label
from core.money import format_money


class PdfUnavailable(RuntimeError):
    pass


def render_invoice_pdf(
    invoice,
    *,
    business_name: str,
    business_address: str,
    business_tax_id: str = "",
    bank_instructions: str = "",
) -> bytes:
    rl = _reportlab()
    Paragraph, Spacer = rl.Paragraph, rl.Spacer

    def money(amount):
        return format_money(int(amount or 0), invoice.currency)

    styles = rl.styles
    story = [
        Paragraph(f"Invoice {invoice.number}", styles["Title"]),
        Paragraph(business_name, styles["Normal"]),
        Paragraph(business_address, styles["Normal"]),
    ]
    if business_tax_id:
        story.append(Paragraph(f"Tax id: {business_tax_id}", styles["Normal"]))
    story += [
        Spacer(1, 12),
        Paragraph(f"Billed to: {invoice.user.email}", styles["Normal"]),
        Paragraph(
            f"Issued {invoice.created_at:%Y-%m-%d} · Due "
            f"{invoice.due_date or '—'} · Status {invoice.get_status_display()}",
            styles["Normal"],
        ),
        Spacer(1, 12),
    ]
    rows = [["Description", "Amount"]]
    rows += [
        [Paragraph(str(line.get("description", "")), styles["Normal"]), money(line.get("amount"))]
        for line in invoice.lines
    ]
    rows += [
        ["Subtotal", money(invoice.subtotal)],
        [discount_label(invoice) or "Discount", "-" + money(invoice.discount_amount)],
        ["Tax", money(invoice.tax)],
        ["Total", money(invoice.total)],
        ["Paid", money(invoice.amount_paid)],
        ["Amount due", money(invoice.amount_due)],
    ]
    story.append(_amounts_table(rl, rows))
    if invoice.status == "OPEN" and invoice.billing_source == "manual" and bank_instructions:
        story += [
            Spacer(1, 12),
            Paragraph(bank_instructions, styles["Normal"]),
            Paragraph(f"Reference: {invoice.payment_reference}", styles["Normal"]),
        ]
    return _build(rl, story, title=f"Invoice {invoice.number}", author=business_name)


def render_receipt_pdf(context: dict) -> bytes:
    """A payment's receipt (``billing.receipts.receipt_context``) as a PDF."""
    rl = _reportlab()
    Paragraph, Spacer = rl.Paragraph, rl.Spacer

    payment, document = context["payment"], context["document"]

    def money(amount):
        return format_money(int(amount or 0), payment.currency)

    styles = rl.styles
    story = [
        Paragraph(f"Receipt {payment.receipt_number}", styles["Title"]),
        Paragraph(context["business_name"], styles["Normal"]),
        Paragraph(context["business_address"], styles["Normal"]),
    ]
    if context["business_tax_id"]:
        story.append(Paragraph(f"Tax number: {context['business_tax_id']}", styles["Normal"]))
    paid_for = context["paid_for"]
    story += [
        Spacer(1, 12),
        Paragraph(f"Billed to: {payment.user.email}", styles["Normal"]),
        Paragraph(
            f"Paid {payment.paid_at or payment.created_at:%Y-%m-%d} · "
            f"{context['method']}"
            + (
                f" · {paid_for['kind'].capitalize()} {paid_for['number']}"
                if paid_for["number"]
                else ""
            ),
            styles["Normal"],
        ),
        Spacer(1, 12),
    ]
    rows = [["Description", "Amount"]]
    rows += [
        [Paragraph(str(line["description"]), styles["Normal"]), money(line["amount"])]
        for line in context["lines"]
    ]
    if document is not None:
        rate = f" ({context['tax_rates']})" if context["tax_rates"] else ""
        rows += [["Subtotal", money(document.subtotal)]]
        if document.discount_amount:
            rows += [["Discounts and credits", "-" + money(document.discount_amount)]]
        rows += [[f"Tax{rate}", money(document.tax)], ["Total", money(document.total)]]
    rows += [["Amount paid", money(payment.amount)]]
    if context["refunded"]:
        rows += [["Refunded", "-" + money(context["refunded"])]]
    story.append(_amounts_table(rl, rows))
    return _build(
        rl, story, title=f"Receipt {payment.receipt_number}", author=context["business_name"]
    )


def _reportlab() -> SimpleNamespace:
    """The ReportLab pieces a PDF is made of, and the sample style sheet."""
    try:  # ReportLab is imported when a PDF is asked for: its start-up cost stays off others
        from reportlab.lib import colors  # noqa: PLC0415 - start-up cost, see above
        from reportlab.lib.pagesizes import A4  # noqa: PLC0415 - as the line above
        from reportlab.lib.styles import getSampleStyleSheet  # noqa: PLC0415 - as the line above
        from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # noqa: PLC0415 - as the line above
    except ImportError as exc:  # pragma: no cover - reportlab is in requirements.txt
        raise PdfUnavailable("reportlab is not installed") from exc
    return SimpleNamespace(
        colors=colors,
        A4=A4,
        styles=getSampleStyleSheet(),
        Paragraph=Paragraph,
        SimpleDocTemplate=SimpleDocTemplate,
        Spacer=Spacer,
        Table=Table,
        TableStyle=TableStyle,
    )


def _amounts_table(rl: SimpleNamespace, rows: list):
    """The description / amount table, its header row underlined and bold."""
    table = rl.Table(rows, colWidths=[360, 120])
    table.setStyle(
        rl.TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 1, rl.colors.black),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
            ]
        )
    )
    return table


def _build(rl: SimpleNamespace, story: list, *, title: str, author: str) -> bytes:
    """The A4 document of ``story``, as bytes."""
    buffer = BytesIO()
    doc = rl.SimpleDocTemplate(buffer, pagesize=rl.A4, title=title, author=author)
    doc.build(story)
    return buffer.getvalue()
