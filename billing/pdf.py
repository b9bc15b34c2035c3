"""Invoice PDFs with ReportLab (pure pip, no system libraries)."""

from io import BytesIO

from catalog.money import format_money


class PdfUnavailable(RuntimeError):
    pass


def render_invoice_pdf(invoice, *, business_name: str, business_address: str,
                       business_tax_id: str = "", bank_instructions: str = "") -> bytes:
    try:
        from reportlab.lib import colors
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.styles import getSampleStyleSheet
        from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    except ImportError as exc:  # pragma: no cover - reportlab is in requirements.txt
        raise PdfUnavailable("reportlab is not installed") from exc

    def money(amount):
        return format_money(int(amount or 0), invoice.currency)

    styles = getSampleStyleSheet()
    buffer = BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"Invoice {invoice.number}",
                            author=business_name)
    story = [Paragraph(f"Invoice {invoice.number}", styles["Title"]),
             Paragraph(business_name, styles["Normal"]),
             Paragraph(business_address, styles["Normal"])]
    if business_tax_id:
        story.append(Paragraph(f"Tax id: {business_tax_id}", styles["Normal"]))
    story += [Spacer(1, 12),
              Paragraph(f"Billed to: {invoice.user.email}", styles["Normal"]),
              Paragraph(f"Issued {invoice.created_at:%Y-%m-%d} · Due "
                        f"{invoice.due_date or '—'} · Status {invoice.get_status_display()}",
                        styles["Normal"]), Spacer(1, 12)]
    rows = [["Description", "Amount"]]
    rows += [[Paragraph(str(line.get("description", "")), styles["Normal"]),
              money(line.get("amount"))] for line in invoice.lines]
    rows += [["Subtotal", money(invoice.subtotal)],
             ["Discount", "-" + money(invoice.discount_amount)],
             ["Tax", money(invoice.tax)], ["Total", money(invoice.total)],
             ["Paid", money(invoice.amount_paid)], ["Amount due", money(invoice.amount_due)]]
    table = Table(rows, colWidths=[360, 120])
    table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, 0), 1, colors.black),
                               ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                               ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold")]))
    story.append(table)
    if invoice.status == "OPEN" and invoice.billing_source == "manual" and bank_instructions:
        story += [Spacer(1, 12), Paragraph(bank_instructions, styles["Normal"]),
                  Paragraph(f"Reference: {invoice.payment_reference}", styles["Normal"])]
    doc.build(story)
    return buffer.getvalue()
