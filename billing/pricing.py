"""The one pricing service: what a cart costs, line by line, with discount and tax.

Everything is integer minor units. Rounding is explicit and happens once per line:
percentage discounts and tax round half-up to the minor unit; an order-level discount is
spread over the eligible lines by largest remainder, so the lines always add up to the total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from billing import errors
from billing.models import Discount, DiscountType
from catalog.models import Price, Product, ProductStatus, ProductType, Variant
from catalog.pricing import price_for_quantity


def round_minor(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass
class QuoteLine:
    product: Product
    quantity: int
    unit_amount: int
    line_total: int
    currency: str
    tax_rate: Decimal
    price: Price | None = None
    variant: Variant | None = None
    description: str = ""
    discount_amount: int = 0
    tax: int = 0
    cart_item_id: int | None = None
    quantity_limit: int | None = None  # the most this line may hold (cart.quantity_limit)
    tax_note: dict | None = None  # a reverse charge's zero line for the invoice (billing.tax)

    @property
    def net(self) -> int:
        return self.line_total - self.discount_amount


@dataclass
class Quote:
    currency: str
    lines: list[QuoteLine] = field(default_factory=list)
    discount: Discount | None = None

    @property
    def subtotal(self) -> int:
        return sum(line.line_total for line in self.lines)

    @property
    def discount_amount(self) -> int:
        return sum(line.discount_amount for line in self.lines)

    @property
    def tax(self) -> int:
        return sum(line.tax for line in self.lines)

    @property
    def total(self) -> int:
        return self.subtotal - self.discount_amount + self.tax


def amount_for(price: Price, quantity: int) -> int:
    """The price of ``quantity`` units by catalog's tier logic (the only copy of it).

    Catalog raises ValueError when the tiers cannot price the quantity (no open-ended last
    tier, no tiers): that is a catalog the customer cannot buy from, refused as PriceMismatch
    (400), never a 500.
    """
    try:
        return int(price_for_quantity(price, quantity))
    except ValueError as exc:
        raise errors.PriceMismatch(
            "This price cannot be computed for this quantity.", price=price.pk
        ) from exc


def _default_price(product: Product) -> Price | None:
    if product.default_price is not None and product.default_price.active:
        return product.default_price
    return (
        product.prices.filter(active=True, type=Price.Type.ONE_TIME)
        .order_by("unit_amount", "id")
        .first()
    )


def resolve_line(*, product: Product, quantity: int, price=None, variant=None) -> QuoteLine:
    """Price one line from the catalog as it is now. Raises ProductUnavailable/PriceMismatch."""
    if (
        product.deleted_at is not None
        or product.status != ProductStatus.PUBLISHED
        or product.type == ProductType.SUBSCRIPTION
    ):
        raise errors.ProductUnavailable(product=product.pk)
    if quantity < 1:
        raise errors.ProductUnavailable("Quantity must be at least 1.")
    if variant is not None:
        if variant.product_id != product.pk or not variant.available:
            raise errors.PriceMismatch()
        line_total, currency = variant.price_amount * quantity, variant.currency
        unit = variant.price_amount
        description = f"{product.name} – {variant.name}"
    else:
        price = price or _default_price(product)
        if (
            price is None
            or price.product_id != product.pk
            or not price.active
            or price.type != Price.Type.ONE_TIME
        ):
            raise errors.PriceMismatch()
        line_total, currency = amount_for(price, quantity), price.currency
        unit = line_total // quantity if price.tiers_mode else price.unit_amount
        description = product.name
    return QuoteLine(
        product=product,
        price=price if variant is None else None,
        variant=variant,
        quantity=quantity,
        unit_amount=unit,
        line_total=line_total,
        currency=currency,
        tax_rate=Decimal(product.tax_rate),
        description=description[:255],
    )


def discount_total(discount, eligible_subtotal: int) -> int:
    if discount.type == DiscountType.PERCENTAGE:
        amount = round_minor(Decimal(eligible_subtotal) * discount.percent_off / Decimal(100))
    else:
        amount = discount.amount_off
    return max(0, min(amount, eligible_subtotal))


def _spread(amount: int, lines: list[QuoteLine]) -> None:
    """Give each line its share of ``amount`` (largest remainder, so the shares sum exactly)."""
    base = sum(line.line_total for line in lines)
    if not base or not amount:
        return
    shares = [(amount * line.line_total) // base for line in lines]
    remainders = sorted(
        range(len(lines)), key=lambda i: ((amount * lines[i].line_total) % base, -i), reverse=True
    )
    for i in remainders[: amount - sum(shares)]:
        shares[i] += 1
    for line, share in zip(lines, shares, strict=True):
        line.discount_amount = share


def eligible_lines(discount, lines: list[QuoteLine]) -> list[QuoteLine]:
    product_ids = set(discount.products.values_list("id", flat=True))
    if not product_ids:
        return list(lines)
    return [line for line in lines if line.product.pk in product_ids]


def build_quote(lines: list[QuoteLine], *, discount=None) -> Quote:
    """Totals for already-resolved lines. ``discount`` must have been validated already."""
    if not lines:
        raise errors.CartEmpty()
    currencies = {line.currency for line in lines}
    if len(currencies) > 1:
        raise errors.MixedCurrencies()
    quote = Quote(currency=currencies.pop(), lines=lines, discount=discount)
    for line in lines:
        line.discount_amount = 0
    if discount is not None:
        eligible = eligible_lines(discount, lines)
        _spread(discount_total(discount, sum(line.line_total for line in eligible)), eligible)
    for line in lines:
        line.tax = round_minor(Decimal(line.net) * line.tax_rate)
    return quote
