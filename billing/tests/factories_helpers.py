from decimal import Decimal

from catalog.factories import PriceFactory, ProductFactory


def priced_product(
    *, amount: int = 1900, currency: str = "usd", tax_rate: Decimal = Decimal("0"), **fields
):
    product = ProductFactory(tax_rate=tax_rate, **fields)
    product.default_price = PriceFactory(product=product, unit_amount=amount, currency=currency)
    product.save(update_fields=["default_price"])
    return product
