"""The Stripe double's promotion codes (mixed into ``StripeDouble``, which holds the objects
and the id counter): made, read and deactivated as Stripe's 2025 API does (the coupon under
``promotion``), and a subscription Checkout Session refused for a code Stripe would refuse."""

from __future__ import annotations

import copy
import time

from billing.tests.stripe_objects import error, example, ids


class PromotionCodeApi:
    def _promotion_code_routes(self) -> list[tuple]:
        P = "stripe.params."  # noqa: N806
        return [
            (
                "POST",
                r"/v1/promotion_codes$",
                self._create_promotion_code,
                P + "_promotion_code_create_params:PromotionCodeCreateParams",
            ),
            (
                "GET",
                r"/v1/promotion_codes/(?P<id>[^/]+)$",
                self._getter("promotion_code"),
                P + "_promotion_code_retrieve_params:PromotionCodeRetrieveParams",
            ),
            (
                "POST",
                r"/v1/promotion_codes/(?P<id>[^/]+)$",
                self._update_promotion_code,
                P + "_promotion_code_modify_params:PromotionCodeModifyParams",
            ),
        ]

    def _create_promotion_code(self, params):
        """As Stripe answers: the coupon must exist, an active code is unique regardless of
        case, an expiry is in the future, and the restrictions come back as given."""
        promotion = params.get("promotion") or {}
        coupon = self.get("coupon", promotion.get("coupon") or "")
        if promotion.get("type") != "coupon" or coupon is None:
            return 400, error(
                "invalid_request_error",
                f"No such coupon: '{promotion.get('coupon')}'",
                code="resource_missing",
                param="promotion[coupon]",
            )
        code = params.get("code") or f"PROMO{next(ids)}"
        taken = [
            o
            for o in self.objects.get("promotion_code", {}).values()
            if o["active"] and o["code"].lower() == code.lower()
        ]
        if taken:
            return 400, error(
                "invalid_request_error",
                "An active promotion code with `code` already exists.",
                code="resource_already_exists",
                param="code",
            )
        expires_at = int(params["expires_at"]) if params.get("expires_at") else None
        if expires_at is not None and expires_at <= time.time():
            return 400, error(
                "invalid_request_error",
                "The `expires_at` must be in the future.",
                param="expires_at",
            )
        given = params.get("restrictions") or {}
        restrictions = {
            "first_time_transaction": given.get("first_time_transaction") == "true",
            "minimum_amount": int(given["minimum_amount"]) if given.get("minimum_amount") else None,
            "minimum_amount_currency": given.get("minimum_amount_currency"),
        }
        obj = example(
            "promotion_code",
            id=self._new_id("promo"),
            active=params.get("active", "true") == "true",
            code=code,
            created=int(time.time()),
            expires_at=expires_at,
            max_redemptions=int(params["max_redemptions"])
            if params.get("max_redemptions")
            else None,
            metadata=params.get("metadata") or {},
            restrictions=restrictions,
            times_redeemed=0,
            promotion={"type": "coupon", "coupon": coupon["id"]},
        )
        return 200, self.put("promotion_code", obj)

    def _update_promotion_code(self, params, id):
        obj = self.get("promotion_code", id)
        if obj is None:
            return 404, error(
                "invalid_request_error",
                f"No such promotion_code: '{id}'",
                code="resource_missing",
            )
        obj = copy.deepcopy(obj)
        if "active" in params:
            obj["active"] = params["active"] == "true"
        if params.get("metadata"):
            obj["metadata"] = {**obj.get("metadata", {}), **params["metadata"]}
        return 200, self.put("promotion_code", obj)

    def _refused_promotion_codes(self, params):
        """Stripe's answer to a session naming a promotion code it does not hold or that is
        no longer active; None when they are fine."""
        for n, discount in enumerate(params.get("discounts") or []):
            code_id = discount.get("promotion_code")
            promo = self.get("promotion_code", code_id or "")
            if code_id and not (promo and promo["active"]):
                return 400, error(
                    "invalid_request_error",
                    "This promotion code cannot be redeemed.",
                    code="promotion_code_invalid" if promo else "resource_missing",
                    param=f"discounts[{n}][promotion_code]",
                )
        return None
