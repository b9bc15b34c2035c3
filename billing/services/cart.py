"""The customer's cart: add, change, remove lines, apply a discount code, and price it."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from accounts.models import User
from billing import errors
from billing.models import Cart, CartItem
from billing.pricing import Quote, QuoteLine, build_quote, resolve_line
from billing.services.discounts import find_code, validate_discount
from billing.tax import tax_rule
from catalog.models import Price, Product, Variant

# The most units of one product an order holds, whatever its tiers (volume tiers start at
# thousands of units); stock and finite tiers can only lower it (``quantity_limit``).
MAX_QUANTITY = 1_000_000


def get_cart(*, user: User) -> Cart:
    cart, _ = Cart.objects.get_or_create(user=user)
    return cart


def _load_catalog(
    *, product_id: int, price_id: int | None = None, variant_id: int | None = None
) -> tuple[Product, Price | None, Variant | None]:
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise errors.ProductUnavailable(field="product_id")
    price: Price | None = None
    variant: Variant | None = None
    if price_id is not None:
        price = Price.objects.filter(pk=price_id, product=product).first()
        if price is None:
            raise errors.PriceMismatch(field="price_id")
    if variant_id is not None:
        variant = Variant.objects.filter(pk=variant_id, product=product).first()
        if variant is None:
            raise errors.PriceMismatch(field="variant_id")
    return product, price, variant


def _tier_limit(product: Product, price: Price | None = None) -> int:
    limit = MAX_QUANTITY
    price = price or getattr(product, "default_price", None)
    if price is not None and price.tiers_mode:
        tiers = list(price.tiers.all())
        if tiers and all(tier.up_to is not None for tier in tiers):
            limit = min(limit, max(tier.up_to for tier in tiers))
    return limit


def quantity_limit(product: Product, price: Price | None = None) -> int:
    """The one limit on how many units of ``product`` (at ``price``, default its default
    price) a customer may buy: MAX_QUANTITY, lowered by tiers that stop (a last tier with an
    ``up_to``) and by tracked stock. The product page, the cart and the API all use it."""
    limit = _tier_limit(product, price)
    if product.track_inventory:
        limit = min(limit, max(0, product.stock_quantity))
    return limit


def _check_quantity(product: Product, quantity: int, price: Price | None = None) -> None:
    cap = _tier_limit(product, price)
    if quantity < 1 or quantity > cap:
        raise errors.ProductUnavailable(
            f"Quantity must be between 1 and {cap:,}.",
            code="invalid_quantity",
            field="quantity",
            limit=cap,
        )
    if product.track_inventory and product.stock_quantity < quantity:
        raise errors.InsufficientStock(
            f"Only {max(0, product.stock_quantity):,} left in stock.",
            field="quantity",
            available=product.stock_quantity,
        )


def add_item(
    *,
    user: User,
    product_id: int,
    quantity: int = 1,
    price_id: int | None = None,
    variant_id: int | None = None,
) -> CartItem:
    """Add a product (optionally a given price or variant); the same line again adds up.

    Raises ProductUnavailable, PriceMismatch, InsufficientStock, MixedCurrencies; writes
    nothing when it raises.
    """
    product, price, variant = _load_catalog(
        product_id=product_id, price_id=price_id, variant_id=variant_id
    )
    line = resolve_line(product=product, quantity=max(quantity, 1), price=price, variant=variant)
    with transaction.atomic():
        cart = Cart.objects.select_for_update().get(pk=get_cart(user=user).pk)
        existing = cart.items.filter(product=product, price=price, variant=variant).first()
        new_quantity = quantity + (existing.quantity if existing else 0)
        _check_quantity(product, new_quantity, price)
        others = cart.items.all() if existing is None else cart.items.exclude(pk=existing.pk)
        other_currencies = {_line_for(item).currency for item in others}
        if other_currencies - {line.currency}:
            raise errors.MixedCurrencies()
        if existing:
            CartItem.objects.filter(pk=existing.pk).update(quantity=F("quantity") + quantity)
            existing.refresh_from_db()
            return existing
        return CartItem.objects.create(
            cart=cart, product=product, price=price, variant=variant, quantity=quantity
        )


def _owned_item(user: User, item_id: int) -> CartItem:
    item = CartItem.objects.filter(pk=item_id, cart__user=user).select_related("product").first()
    if item is None:
        raise errors.CartItemNotFound()
    return item


def update_item(*, user: User, item_id: int, quantity: int) -> CartItem:
    item = _owned_item(user, item_id)
    _check_quantity(item.product, quantity, item.price)
    item.quantity = quantity
    item.save(update_fields=["quantity", "updated_at"])
    return item


def remove_item(*, user: User, item_id: int) -> None:
    _owned_item(user, item_id).delete()


def clear(*, user: User) -> None:
    Cart.objects.filter(user=user).update(discount=None, promotion_code=None)
    CartItem.objects.filter(cart__user=user).delete()


def _line_for(item: CartItem) -> QuoteLine:
    line = resolve_line(
        product=item.product, quantity=item.quantity, price=item.price, variant=item.variant
    )
    line.cart_item_id = item.pk
    line.quantity_limit = quantity_limit(item.product, item.price)
    return line


def cart_lines(*, user: User, strict: bool = True) -> list[QuoteLine]:
    """The cart's lines priced from the catalog as it is now. ``strict`` raises for an item
    that can no longer be bought (checkout); otherwise such items are left out (display;
    see unavailable_items)."""
    items = CartItem.objects.filter(cart__user=user).select_related(
        "product", "product__default_price", "price", "variant"
    )
    lines, rule = [], None
    for item in items:
        try:
            line = _line_for(item)
        except (errors.ProductUnavailable, errors.PriceMismatch):
            if strict:
                raise
            continue
        # The one tax rule (billing.tax): the customer's country, a reverse charge, the
        # staff's rate for the country, else the product's own.
        rule = rule or tax_rule(user)
        decision = rule.for_product(item.product)
        line.tax_rate = decision.rate
        line.tax_note = decision.reverse_charge_line() if decision.reverse_charge else None
        lines.append(line)
    return lines


def unavailable_items(*, user: User) -> list[CartItem]:
    """Items whose product, price or variant was withdrawn since they were added."""
    available = {line.cart_item_id for line in cart_lines(user=user, strict=False)}
    return [
        item
        for item in CartItem.objects.filter(cart__user=user).select_related("product")
        if item.pk not in available
    ]


def apply_code(*, user: User, code: str) -> Quote:
    """Validate ``code`` against the cart as it is and remember it. Raises a DiscountError
    with its own code (nothing saved) when it cannot apply."""
    found = find_code(code)
    discount = found.discount
    lines = cart_lines(user=user, strict=False)
    quote = build_quote(lines)
    validate_discount(
        discount, user=user, lines=lines, currency=quote.currency, promotion=found.promotion
    )
    cart = get_cart(user=user)
    cart.discount, cart.promotion_code = discount, found.promotion
    cart.save(update_fields=["discount", "promotion_code", "updated_at"])
    return build_quote(cart_lines(user=user, strict=False), discount=discount)


def remove_code(*, user: User) -> None:
    Cart.objects.filter(user=user).update(discount=None, promotion_code=None)


def code_shown(cart: Cart) -> str | None:
    """The code the customer typed for the cart's discount: the promotion code, else the
    coupon's own code."""
    if cart.promotion_code_id and cart.promotion_code is not None:
        return cart.promotion_code.code
    return cart.discount.code if cart.discount is not None else None


def cart_quote(*, user: User) -> tuple[Quote | None, errors.DiscountError | None]:
    """The cart priced now. A remembered code that no longer applies is left out and its
    refusal returned, so the page can say why. (None, None) for an empty cart."""
    lines = cart_lines(user=user, strict=False)
    if not lines:
        return None, None
    cart = get_cart(user=user)
    discount, problem = cart.discount, None
    if discount is not None:
        base = build_quote(cart_lines(user=user, strict=False))
        try:
            validate_discount(
                discount,
                user=user,
                lines=lines,
                currency=base.currency,
                promotion=cart.promotion_code,
            )
        except errors.DiscountError as exc:
            discount, problem = None, exc
    return build_quote(lines, discount=discount), problem
