"""A local stand-in for Stripe's HTTP API, for tests.

A threading ``http.server`` on 127.0.0.1 (random port) that the ``stripe`` library reaches
through ``stripe.api_base``. Objects start from Stripe's published examples
(fixtures/stripe_objects.json, MIT, see fixtures/STRIPE_LICENSE) with ids, amounts and
states changed. Every request is recorded (method, path, form params as nested dicts,
Idempotency-Key) so tests can assert what Stripe received. Like Stripe, a POST repeated
with the same Idempotency-Key returns the first response and creates nothing.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from billing.tests.stripe_double_billing import CatalogApi, SubscriptionApi, TaxRateApi
from billing.tests.stripe_double_promotions import PromotionCodeApi
from billing.tests.stripe_objects import API_VERSION, error, example, ids, in_version
from billing.tests.stripe_params import params_class, unknown_parameter


def _nest(pairs: list[tuple[str, str]]) -> dict:
    """Turn Stripe's form encoding (``a[b][0][c]=x``) back into nested dicts and lists."""
    root: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node):
    if not isinstance(node, dict):
        return node
    node = {k: _listify(v) for k, v in node.items()}
    if node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


@dataclass
class Recorded:
    method: str
    path: str
    params: dict
    idempotency_key: str | None
    headers: dict = field(default_factory=dict)


class StripeDouble(SubscriptionApi, CatalogApi, TaxRateApi, PromotionCodeApi):
    def __init__(self):
        self.requests: list[Recorded] = []
        self.objects: dict[str, dict[str, dict]] = {}
        self._idempotent: dict[str, tuple[int, dict]] = {}
        self._intent_data: dict[str, dict] = {}  # session id -> its payment_intent_data
        self._lock = threading.Lock()
        # Stripe serialises requests that share an idempotency key; so does the double.
        self._post_lock = threading.Lock()
        self.refund_status = "succeeded"
        self.api_version = API_VERSION  # the account's default version
        self.fail_next: list[tuple[int, dict]] = []  # (HTTP status, error body) to answer next
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> StripeDouble:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.objects.clear()
            self._idempotent.clear()
            self._intent_data.clear()
            self.fail_next.clear()
            self.refund_status = "succeeded"
            self.api_version = API_VERSION

    # --- what tests use ----------------------------------------------------------------
    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def put(self, kind: str, obj: dict) -> dict:
        with self._lock:
            self.objects.setdefault(kind, {})[obj["id"]] = obj
        return obj

    def get(self, kind: str, object_id: str) -> dict | None:
        return self.objects.get(kind, {}).get(object_id)

    # --- the API -----------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(ids):08d}"

    def _routes(self) -> list[tuple]:
        """(method, path pattern, handler, stripe-python's parameter class for the call)."""
        return [
            *self._customer_routes(),
            *self._payment_routes(),
            *self._event_routes(),
            *self._subscription_routes(),
            *self._catalog_routes(),
            *self._tax_rate_routes(),
        ]

    def _customer_routes(self) -> list[tuple]:
        """Customers and Checkout."""
        P = "stripe.params."  # noqa: N806
        return [
            (
                "POST",
                r"/v1/customers$",
                self._create_customer,
                P + "_customer_create_params:CustomerCreateParams",
            ),
            (
                "GET",
                r"/v1/customers/(?P<id>[^/]+)$",
                self._getter("customer"),
                P + "_customer_retrieve_params:CustomerRetrieveParams",
            ),
            (
                "POST",
                r"/v1/checkout/sessions$",
                self._create_session,
                P + "checkout._session_create_params:SessionCreateParams",
            ),
            (
                "GET",
                r"/v1/checkout/sessions/(?P<id>[^/]+)$",
                self._getter("checkout.session"),
                P + "checkout._session_retrieve_params:SessionRetrieveParams",
            ),
        ]

    def _payment_routes(self) -> list[tuple]:
        """Payments, refunds, disputes, payment methods."""
        P = "stripe.params."  # noqa: N806
        return [
            (
                "GET",
                r"/v1/payment_intents/(?P<id>[^/]+)$",
                self._get_intent,
                P + "_payment_intent_retrieve_params:PaymentIntentRetrieveParams",
            ),
            (
                "POST",
                r"/v1/refunds$",
                self._create_refund,
                P + "_refund_create_params:RefundCreateParams",
            ),
            (
                "GET",
                r"/v1/refunds$",
                self._list("refund", "charge"),
                P + "_refund_list_params:RefundListParams",
            ),
            (
                "GET",
                r"/v1/refunds/(?P<id>[^/]+)$",
                self._getter("refund"),
                P + "_refund_retrieve_params:RefundRetrieveParams",
            ),
            (
                "GET",
                r"/v1/charges/(?P<id>[^/]+)$",
                self._getter("charge"),
                P + "_charge_retrieve_params:ChargeRetrieveParams",
            ),
            (
                "GET",
                r"/v1/disputes/(?P<id>[^/]+)$",
                self._getter("dispute"),
                P + "_dispute_retrieve_params:DisputeRetrieveParams",
            ),
            (
                "GET",
                r"/v1/payment_methods/(?P<id>[^/]+)$",
                self._getter("payment_method"),
                P + "_payment_method_retrieve_params:PaymentMethodRetrieveParams",
            ),
        ]

    def _event_routes(self) -> list[tuple]:
        """Events and the account."""
        P = "stripe.params."  # noqa: N806
        return [
            (
                "GET",
                r"/v1/events$",
                self._list("event", None),
                P + "_event_list_params:EventListParams",
            ),
            (
                "GET",
                r"/v1/account$",
                self._account,
                P + "_account_retrieve_current_params:AccountRetrieveCurrentParams",
            ),
            (
                "GET",
                r"/v1/events/(?P<id>[^/]+)$",
                self._getter("event"),
                P + "_event_retrieve_params:EventRetrieveParams",
            ),
        ]

    def handle(
        self, method: str, path: str, params: dict, version: str | None = None
    ) -> tuple[int, dict]:
        """Answer one request in ``version`` (the Stripe-Version header; the account's
        default, ``self.api_version``, without one). Parameters stripe-python does not declare
        for that call are refused with 400, as Stripe refuses them."""
        for verb, pattern, fn, params_path in self._routes():
            match = re.match(pattern, path)
            if verb == method and match:
                unknown = unknown_parameter(params, params_class(params_path))
                if unknown:
                    return 400, error(
                        "invalid_request_error",
                        f"Received unknown parameter: {unknown}",
                        code="parameter_unknown",
                        param=unknown,
                    )
                status, payload = fn(params, **match.groupdict())
                return status, in_version(payload, version or self.api_version)
        return 404, error("invalid_request_error", f"Unrecognized request URL ({method} {path})")

    def _getter(self, kind):
        def get(params, id):
            obj = self.get(kind, id)
            if obj is None:
                return 404, error(
                    "invalid_request_error", f"No such {kind}: '{id}'", code="resource_missing"
                )
            return 200, obj

        return get

    def _list(self, kind, filter_field):
        def list_(params):
            data = list(self.objects.get(kind, {}).values())
            created = params.get("created")
            if isinstance(created, dict) and created.get("gte"):
                data = [o for o in data if o.get("created", 0) >= int(created["gte"])]
            if filter_field and params.get(filter_field):
                data = [o for o in data if o.get(filter_field) == params[filter_field]]
            return 200, {"object": "list", "data": data, "has_more": False, "url": f"/v1/{kind}s"}

        return list_

    def _no_features(self, params, id):
        return 200, {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/products/{id}/features",
        }

    def _list_invoice_payments(self, params):
        data = list(self.objects.get("invoice_payment", {}).values())
        if params.get("invoice"):
            data = [p for p in data if p.get("invoice") == params["invoice"]]
        wanted = (params.get("payment") or {}).get("payment_intent")
        if wanted:
            data = [p for p in data if (p.get("payment") or {}).get("payment_intent") == wanted]
        return 200, {
            "object": "list",
            "data": data,
            "has_more": False,
            "url": "/v1/invoice_payments",
        }

    def _get_intent(self, params, id):
        status, intent = self._getter("payment_intent")(params, id)
        if status == 200 and "latest_charge" in (params.get("expand") or []):
            charge = self.get("charge", intent.get("latest_charge") or "")
            intent = {**intent, "latest_charge": charge}
        return status, intent

    def _account(self, params):
        return 200, example(
            "account",
            id="acct_double",
            settings=None,
            business_profile={"name": "Double", "url": None},
        )

    def _create_customer(self, params):
        customer = example(
            "customer",
            id=self._new_id("cus"),
            email=params.get("email"),
            name=params.get("name"),
            metadata=params.get("metadata") or {},
            created=int(time.time()),
        )
        return 200, self.put("customer", customer)

    def _create_session(self, params):
        items = params.get("line_items") or []
        if params.get("mode") == "subscription":
            return self._create_subscription_session(params, items)
        total = sum(int(i["price_data"]["unit_amount"]) * int(i.get("quantity", 1)) for i in items)
        currency = items[0]["price_data"]["currency"] if items else "usd"
        session_id = self._new_id("cs")
        # Since 2022-08-01 a payment-mode session has no PaymentIntent until the customer
        # pays (``pay_session``): ``payment_intent`` is null.
        self._intent_data[session_id] = params.get("payment_intent_data") or {}
        session = example(
            "checkout.session",
            id=session_id,
            mode=params.get("mode"),
            customer=params.get("customer"),
            client_reference_id=params.get("client_reference_id"),
            metadata=params.get("metadata") or {},
            amount_subtotal=total,
            amount_total=total,
            currency=currency,
            payment_intent=None,
            payment_status="unpaid",
            status="open",
            success_url=params.get("success_url"),
            cancel_url=params.get("cancel_url"),
            created=int(time.time()),
            url=f"https://checkout.stripe.test/c/pay/{session_id}",
        )
        return 200, self.put("checkout.session", session)

    def pay_session(
        self,
        session_id: str,
        *,
        brand: str = "visa",
        last4: str = "4242",
        asynchronous: bool = False,
    ) -> tuple[dict, dict, dict]:
        """The customer pays a payment-mode session: Stripe creates the PaymentIntent and
        its charge then. ``asynchronous``: a bank debit, paid later (``processing``).
        Returns (session, intent, charge) as Stripe now holds them."""
        session = copy.deepcopy(self.get("checkout.session", session_id))
        intent_id, charge_id = self._new_id("pi"), self._new_id("ch")
        amount = session["amount_total"]
        charge = example(
            "charge",
            id=charge_id,
            amount=amount,
            amount_captured=amount,
            amount_refunded=0,
            refunded=False,
            currency=session["currency"],
            customer=session.get("customer"),
            payment_intent=intent_id,
            status="pending" if asynchronous else "succeeded",
            paid=not asynchronous,
            disputed=False,
        )
        charge["payment_method_details"]["card"].update(brand=brand, last4=last4)
        charge.pop("refunds", None)
        self.put("charge", charge)
        intent = self.put(
            "payment_intent",
            example(
                "payment_intent",
                id=intent_id,
                amount=amount,
                currency=session["currency"],
                customer=session.get("customer"),
                status="processing" if asynchronous else "succeeded",
                amount_received=0 if asynchronous else amount,
                latest_charge=charge_id,
                metadata=self._intent_data.get(session_id, {}).get("metadata") or {},
                created=int(time.time()),
                canceled_at=None,
                last_payment_error=None,
            ),
        )
        session.update(
            payment_intent=intent_id,
            status="complete",
            payment_status="unpaid" if asynchronous else "paid",
        )
        return self.put("checkout.session", session), intent, charge

    def _create_refund(self, params):
        intent = self.get("payment_intent", params.get("payment_intent", ""))
        if intent is None:
            return 404, error(
                "invalid_request_error", "No such payment_intent", code="resource_missing"
            )
        amount = int(params.get("amount") or intent["amount"])
        charge_id = intent.get("latest_charge") or f"ch_for_{intent['id']}"
        refund = example(
            "refund",
            id=self._new_id("re"),
            amount=amount,
            currency=intent["currency"],
            payment_intent=intent["id"],
            charge=charge_id,
            status=self.refund_status,
            metadata=params.get("metadata") or {},
            reason=params.get("reason"),
            created=int(time.time()),
        )
        return 200, self.put("refund", refund)

    def _handler_class(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                params = _nest(parse_qsl(body or url.query, keep_blank_values=True))
                key = self.headers.get("Idempotency-Key")
                version = self.headers.get("Stripe-Version")
                double.requests.append(
                    Recorded(method, url.path, params, key, dict(self.headers.items()))
                )
                with double._lock:
                    failure = double.fail_next.pop(0) if double.fail_next else None
                if failure:
                    status, payload = failure
                elif method in ("POST", "DELETE"):
                    with double._post_lock:
                        if key and key in double._idempotent:
                            status, payload = double._idempotent[key]
                        else:
                            status, payload = double.handle(method, url.path, params, version)
                            if key and status < 500:
                                double._idempotent[key] = (status, payload)
                else:
                    status, payload = double.handle(method, url.path, params, version)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{next(ids)}")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 - http.server's naming
                self._serve("GET")

            def do_POST(self):  # noqa: N802
                self._serve("POST")

            def do_DELETE(self):  # noqa: N802
                self._serve("DELETE")

            def log_message(self, *args):
                pass

        return Handler
