"""The Stripe double's subscription, invoice, billing portal, coupon, tax rate and catalog
endpoints (mixed into ``StripeDouble``, which holds the objects and the id counter)."""

from __future__ import annotations

import copy
import time

from billing.tests.stripe_objects import error, example, ids


class SubscriptionApi:
    def _subscription_routes(self) -> list[tuple]:
        """Subscriptions, their invoices, the billing portal and coupons."""
        P = "stripe.params."  # noqa: N806
        return [
            (
                "GET",
                r"/v1/subscriptions/(?P<id>[^/]+)$",
                self._getter("subscription"),
                P + "_subscription_retrieve_params:SubscriptionRetrieveParams",
            ),
            (
                "POST",
                r"/v1/subscriptions/(?P<id>[^/]+)$",
                self._update_subscription,
                P + "_subscription_modify_params:SubscriptionModifyParams",
            ),
            (
                "DELETE",
                r"/v1/subscriptions/(?P<id>[^/]+)$",
                self._cancel_subscription,
                P + "_subscription_cancel_params:SubscriptionCancelParams",
            ),
            (
                "GET",
                r"/v1/invoices/(?P<id>[^/]+)$",
                self._getter("invoice"),
                P + "_invoice_retrieve_params:InvoiceRetrieveParams",
            ),
            (
                "GET",
                r"/v1/invoice_payments$",
                self._list_invoice_payments,
                P + "_invoice_payment_list_params:InvoicePaymentListParams",
            ),
            (
                "POST",
                r"/v1/invoices/create_preview$",
                self._preview_invoice,
                P + "_invoice_create_preview_params:InvoiceCreatePreviewParams",
            ),
            (
                "POST",
                r"/v1/invoices/(?P<id>[^/]+)/void$",
                self._void_invoice,
                P + "_invoice_void_invoice_params:InvoiceVoidInvoiceParams",
            ),
            (
                "POST",
                r"/v1/billing_portal/sessions$",
                self._create_portal_session,
                P + "billing_portal._session_create_params:SessionCreateParams",
            ),
            (
                "POST",
                r"/v1/coupons$",
                self._create_coupon,
                P + "_coupon_create_params:CouponCreateParams",
            ),
            *self._promotion_code_routes(),
        ]

    def _create_subscription_session(self, params, items):
        prices = [self.get("price", i.get("price", "")) for i in items]
        if not items or any(p is None for p in prices):
            return 400, error("invalid_request_error", "No such price", code="resource_missing")
        refused = self._refused_promotion_codes(params)
        if refused:
            return refused
        refused = self._refused_tax_rates(params)
        if refused:
            return refused
        total = sum(
            int(p["unit_amount"]) * int(i.get("quantity", 1))
            for p, i in zip(prices, items, strict=True)
        )
        session_id = self._new_id("cs")
        session = example(
            "checkout.session",
            id=session_id,
            mode="subscription",
            customer=params.get("customer"),
            client_reference_id=params.get("client_reference_id"),
            metadata=params.get("metadata") or {},
            amount_subtotal=total,
            amount_total=total,
            currency=prices[0]["currency"],
            payment_intent=None,
            subscription=None,
            payment_status="unpaid",
            status="open",
            success_url=params.get("success_url"),
            cancel_url=params.get("cancel_url"),
            created=int(time.time()),
            subscription_data=params.get("subscription_data") or {},
            discounts=params.get("discounts") or [],
            url=f"https://checkout.stripe.test/c/pay/{session_id}",
        )
        return 200, self.put("checkout.session", session)

    def _update_subscription(self, params, id):
        sub = self.get("subscription", id)
        if sub is None:
            return 404, error(
                "invalid_request_error", f"No such subscription: '{id}'", code="resource_missing"
            )
        sub = copy.deepcopy(sub)
        if "cancel_at_period_end" in params:
            sub["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
            sub["cancel_at"] = (
                sub["items"]["data"][0]["current_period_end"]
                if sub["cancel_at_period_end"]
                else None
            )
        for change in params.get("items") or []:
            for item in sub["items"]["data"]:
                if item["id"] == change.get("id") and change.get("price"):
                    price = self.get("price", change["price"])
                    if price is None:
                        return 400, error(
                            "invalid_request_error", "No such price", code="resource_missing"
                        )
                    item["price"] = price
        if params.get("metadata"):
            sub["metadata"] = {**sub.get("metadata", {}), **params["metadata"]}
        if params.get("trial_end"):
            # As Stripe does: "now" ends the trial; a timestamp makes the subscription trial
            # until then, and the current period ends with the trial.
            if params["trial_end"] == "now":
                sub["trial_end"], sub["status"] = int(time.time()), "active"
            else:
                sub["trial_end"], sub["status"] = int(params["trial_end"]), "trialing"
                for item in sub["items"]["data"]:
                    item["current_period_end"] = sub["trial_end"]
        return 200, self.put("subscription", sub)

    def _cancel_subscription(self, params, id):
        sub = self.get("subscription", id)
        if sub is None:
            return 404, error(
                "invalid_request_error", f"No such subscription: '{id}'", code="resource_missing"
            )
        now = int(time.time())
        sub = {**copy.deepcopy(sub), "status": "canceled", "canceled_at": now, "ended_at": now}
        return 200, self.put("subscription", sub)

    def _void_invoice(self, params, id):
        invoice = self.get("invoice", id)
        if invoice is None:
            return 404, error(
                "invalid_request_error", f"No such invoice: '{id}'", code="resource_missing"
            )
        if invoice.get("status") not in ("open", "uncollectible"):
            return 400, error(
                "invalid_request_error",
                "You can only void invoices that are open or uncollectible.",
                code="invoice_not_open",
            )
        now = int(time.time())
        invoice = {
            **copy.deepcopy(invoice),
            "status": "void",
            "amount_remaining": 0,
            "status_transitions": {**(invoice.get("status_transitions") or {}), "voided_at": now},
        }
        return 200, self.put("invoice", invoice)

    def _proration_line(
        self, amount: int, currency: str, description: str, *, start: int, end: int
    ) -> dict:
        """One proration line of a preview invoice, for the period ``start``..``end``."""
        return {
            "id": self._new_id("il"),
            "object": "line_item",
            "amount": amount,
            "currency": currency,
            "description": description,
            "period": {"start": start, "end": end},
            "quantity": 1,
            "parent": {
                "type": "subscription_item_details",
                "subscription_item_details": {"proration": True},
            },
        }

    def _preview_invoice(self, params):
        """Proration the way Stripe computes it: unused time of the old price credited,
        remaining time of the new price charged, both by the second."""
        sub = self.get("subscription", params.get("subscription", ""))
        if sub is None:
            return 404, error(
                "invalid_request_error", "No such subscription", code="resource_missing"
            )
        details = params.get("subscription_details") or {}
        change = (details.get("items") or [{}])[0]
        new_price = self.get("price", change.get("price", ""))
        if new_price is None:
            return 400, error("invalid_request_error", "No such price", code="resource_missing")
        item = sub["items"]["data"][0]
        old_price = item["price"]
        start, end = item["current_period_start"], item["current_period_end"]
        at = int(details.get("proration_date") or time.time())
        left = max(0, end - at) / max(1, end - start)
        credit = -round(old_price["unit_amount"] * left)
        charge = round(new_price["unit_amount"] * left)
        lines = [
            self._proration_line(
                credit, old_price["currency"], "Unused time (old price)", start=at, end=end
            ),
            self._proration_line(
                charge, new_price["currency"], "Remaining time (new price)", start=at, end=end
            ),
        ]
        total = credit + charge
        invoice = example(
            "invoice",
            id=f"upcoming_{sub['id']}",
            status="draft",
            currency=old_price["currency"],
            subtotal=total,
            total=total,
            amount_due=max(total, 0),
            amount_paid=0,
            amount_remaining=max(total, 0),
            lines={
                "object": "list",
                "data": lines,
                "has_more": False,
                "url": "/v1/invoices/upcoming/lines",
            },
            customer=sub["customer"],
            total_taxes=[],
            total_discount_amounts=[],
        )
        return 200, invoice

    def _create_portal_session(self, params):
        session = example(
            "billing_portal.session",
            id=self._new_id("bps"),
            customer=params.get("customer"),
            return_url=params.get("return_url"),
            url=f"https://billing.stripe.test/p/session/{next(ids)}",
        )
        return 200, self.put("billing_portal.session", session)

    def _create_coupon(self, params):
        coupon = example(
            "coupon",
            id=self._new_id("co"),
            percent_off=float(params["percent_off"]) if params.get("percent_off") else None,
            amount_off=int(params["amount_off"]) if params.get("amount_off") else None,
            currency=params.get("currency"),
            duration=params.get("duration", "once"),
            duration_in_months=int(params["duration_in_months"])
            if params.get("duration_in_months")
            else None,
            metadata=params.get("metadata") or {},
            name=params.get("name"),
        )
        return 200, self.put("coupon", coupon)


class TaxRateApi:
    """Tax rates, as Stripe answers ``POST /v1/tax_rates`` and checks their use."""

    REQUIRED_TAX_RATE_PARAMS = ("display_name", "inclusive", "percentage")

    def _tax_rate_routes(self) -> list[tuple]:
        P = "stripe.params."  # noqa: N806
        return [
            (
                "POST",
                r"/v1/tax_rates$",
                self._create_tax_rate,
                P + "_tax_rate_create_params:TaxRateCreateParams",
            ),
            (
                "GET",
                r"/v1/tax_rates/(?P<id>[^/]+)$",
                self._getter("tax_rate"),
                P + "_tax_rate_retrieve_params:TaxRateRetrieveParams",
            ),
        ]

    def _create_tax_rate(self, params):
        for name in self.REQUIRED_TAX_RATE_PARAMS:
            if params.get(name) in (None, ""):
                return 400, error(
                    "invalid_request_error",
                    f"Missing required param: {name}.",
                    code="parameter_missing",
                    param=name,
                )
        if params["inclusive"] not in ("true", "false"):
            return 400, error(
                "invalid_request_error",
                "Invalid boolean: " + params["inclusive"],
                code="parameter_invalid_boolean",
                param="inclusive",
            )
        try:
            percentage = float(params["percentage"])
        except ValueError:
            percentage = -1.0
        if not 0 <= percentage <= 100:
            return 400, error(
                "invalid_request_error",
                "Invalid decimal: percentage must be between 0 and 100.",
                code="parameter_invalid_decimal",
                param="percentage",
            )
        tax_rate = example(
            "tax_rate",
            id=self._new_id("txr"),
            active=params.get("active", "true") != "false",
            country=params.get("country"),
            description=params.get("description"),
            display_name=params["display_name"],
            effective_percentage=percentage,
            inclusive=params["inclusive"] == "true",
            jurisdiction=params.get("jurisdiction"),
            jurisdiction_level=None,
            metadata=params.get("metadata") or {},
            percentage=percentage,
            state=params.get("state"),
            tax_type=params.get("tax_type"),
            flat_amount=None,
            rate_type="percentage",
            created=int(time.time()),
        )
        return 200, self.put("tax_rate", tax_rate)

    def _refused_tax_rates(self, params):
        """Stripe's answer to a session naming tax rates it does not hold, or tax rates
        together with automatic tax; None when they are fine."""
        sub_data = params.get("subscription_data") or {}
        named = [
            ("subscription_data[default_tax_rates]", sub_data.get("default_tax_rates") or []),
            *(
                (f"line_items[{n}][tax_rates]", item.get("tax_rates") or [])
                for n, item in enumerate(params.get("line_items") or [])
            ),
        ]
        automatic = (params.get("automatic_tax") or {}).get("enabled") == "true"
        for param, rate_ids in named:
            if rate_ids and automatic:
                return 400, error(
                    "invalid_request_error",
                    "You cannot specify tax rates when automatic tax is enabled.",
                    param=param,
                )
            for n, rate_id in enumerate(rate_ids):
                if self.get("tax_rate", rate_id) is None:
                    return 400, error(
                        "invalid_request_error",
                        f"No such tax rate: '{rate_id}'",
                        code="resource_missing",
                        param=f"{param}[{n}]",
                    )
        return None


class CatalogApi:
    def _catalog_routes(self) -> list[tuple]:
        """Products and prices."""
        P = "stripe.params."  # noqa: N806
        return [
            (
                "GET",
                r"/v1/products$",
                self._list("product", None),
                P + "_product_list_params:ProductListParams",
            ),
            (
                "POST",
                r"/v1/products$",
                self._create_product,
                P + "_product_create_params:ProductCreateParams",
            ),
            (
                "POST",
                r"/v1/products/(?P<id>[^/]+)$",
                self._update_product,
                P + "_product_modify_params:ProductModifyParams",
            ),
            (
                "GET",
                r"/v1/products/(?P<id>[^/]+)$",
                self._getter("product"),
                P + "_product_retrieve_params:ProductRetrieveParams",
            ),
            (
                "GET",
                r"/v1/prices/(?P<id>[^/]+)$",
                self._getter("price"),
                P + "_price_retrieve_params:PriceRetrieveParams",
            ),
            (
                "GET",
                r"/v1/products/(?P<id>[^/]+)/features$",
                self._no_features,
                P + "_product_feature_list_params:ProductFeatureListParams",
            ),
            (
                "GET",
                r"/v1/prices$",
                self._list("price", None),
                P + "_price_list_params:PriceListParams",
            ),
            (
                "POST",
                r"/v1/prices$",
                self._create_price,
                P + "_price_create_params:PriceCreateParams",
            ),
        ]

    def _create_product(self, params):
        product = example(
            "product",
            id=self._new_id("prod"),
            name=params.get("name"),
            description=params.get("description"),
            default_price=None,
            active=params.get("active", "true") != "false",
            metadata=params.get("metadata") or {},
            created=int(time.time()),
        )
        return 200, self.put("product", product)

    def _update_product(self, params, id):
        product = self.get("product", id)
        if product is None:
            return 404, error(
                "invalid_request_error", f"No such product: '{id}'", code="resource_missing"
            )
        changes = {k: v for k, v in params.items() if k in ("name", "description")}
        return 200, self.put("product", {**product, **changes})

    def _create_price(self, params):
        recurring = params.get("recurring")
        price = example(
            "price",
            id=self._new_id("price"),
            product=params.get("product"),
            unit_amount=int(params.get("unit_amount") or 0),
            currency=params.get("currency", "usd"),
            type="recurring" if recurring else "one_time",
            recurring=(
                {
                    "interval": recurring["interval"],
                    "interval_count": int(recurring.get("interval_count", 1)),
                    "usage_type": "licensed",
                    "meter": None,
                    "trial_period_days": None,
                }
                if recurring
                else None
            ),
            metadata=params.get("metadata") or {},
            nickname=params.get("nickname"),
            lookup_key=params.get("lookup_key"),
            created=int(time.time()),
        )
        return 200, self.put("price", price)
