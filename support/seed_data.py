"""Help-centre articles seeded by ``manage.py seed_support`` (idempotent by slug)."""

ARTICLES = [
    {
        "slug": "how-billing-works",
        "title": "How billing works",
        "content_type": "guide",
        "tags": ["billing", "payments", "stripe"],
        "summary": "Card payments through Stripe or payment by invoice: what is charged, when.",
        "body": """## Two ways to pay

When card payment is offered, plans and orders are paid by card through Stripe: we never see
or store your full card number, only its brand and last four digits. Some plans are always
billed by invoice, and when card payment is not offered every plan and order is: the pricing
page and the subscribe page say which applies before you confirm.

An invoice is paid by bank transfer with the payment reference it shows, within the number
of days it states (14 by default).

## When you are charged

Subscriptions are charged at the start of each billing period, monthly or yearly; a plan
with a free trial sends its first invoice or charge when the trial ends. One-time purchases
such as credit packs are charged at checkout, or invoiced when you choose bank transfer.

Every payment gets a receipt by e-mail with its receipt number. All your payments, with what
each paid for and any refunds, are on the [Payments](/billing/payments/) page; invoices are on
[Invoices](/billing/invoices/).

## Currencies and tax

Amounts are shown in the currency of the price. Tax is charged at the rate for your billing
country (or ours when we do not know yours); a business with a valid EU VAT number in another
EU country pays no VAT (reverse charge). Invoices and receipts show the rate, the tax amount
and our tax number.
""",
    },
    {
        "slug": "download-invoices",
        "title": "Where do I find my invoices?",
        "content_type": "faq",
        "tags": ["invoices", "billing", "receipts"],
        "summary": "Invoices are on the Invoices page, receipts on the Payments page.",
        "body": """Every invoice we issue is listed on the [Invoices](/billing/invoices/) page,
newest first. Open
one to see its lines, discounts and credits, tax (with its rate), amount paid and amount due; print
it or download it as a PDF.

Every payment has a receipt: open it from the [Payments](/billing/payments/) page (or the link in
the receipt
e-mail) and download it as a PDF. Receipts and invoices show our business name, address and
tax number.

If an invoice is missing, check that you are signed in with the account that paid. Still
missing? Open a ticket and include the date and amount of the charge.
""",
    },
    {
        "slug": "invoice-details-wrong",
        "title": "My invoice shows the wrong company name or tax id",
        "content_type": "faq",
        "tags": ["invoices", "vat", "tax id"],
        "summary": "Tell us the correct details; our team can void and reissue an unpaid invoice.",
        "body": """Invoices use the billing details on your account when the invoice was issued.
Update them on your [profile](/account/profile/): future invoices use the new details
straight away.

For an invoice that was already issued, open a ticket with the invoice number and the
correct details. Our team can cancel an unpaid invoice and issue a corrected one; a paid
invoice is not edited.
""",
    },
    {
        "slug": "subscription-plans",
        "title": "Choosing a plan: monthly or yearly",
        "content_type": "guide",
        "tags": ["subscriptions", "plans", "pricing"],
        "summary": "What plans include and how monthly and yearly billing differ.",
        "body": """Each plan includes a number of credits every billing period, a storage quota and
a set of features. The pricing page shows the monthly and the yearly price of each plan: yearly
billing costs less per month.

A plan with a free trial starts in the **trialing** state, once per customer: you are not
charged until the trial ends, and you can cancel before then at no cost.

Your current plan, its renewal date and its history are on the
[Subscription](/billing/subscription/) page.
""",
    },
    {
        "slug": "change-plan",
        "title": "Upgrading or downgrading your plan",
        "content_type": "guide",
        "tags": ["subscriptions", "upgrade", "downgrade", "plan change"],
        "summary": "Changes apply at once; only what you paid is credited.",
        "body": """Choose **Change plan or interval** on the [Subscription](/billing/subscription/)
page and preview the
change before you confirm it: the preview shows every line, the subtotal, any credit, the tax and
what is due.

## What you pay

A change takes effect at once. For the same interval you pay the new plan's price for the
rest of the current period; switching between monthly and yearly starts a new period today.

The unused part of the current period is credited only if you paid for it, and only what
you paid (after any discount). If the period's invoice is still unpaid, it is cancelled
instead and the change invoice charges the time you used on the old plan. A part-paid
invoice, or an unpaid invoice from an earlier change, must be paid before another change.

## Downgrading

When the credit is larger than the new charge, the difference is kept on your subscription
and taken off your next invoice; you are never sent a negative invoice.

A subscription paid by card can move only to plans paid by card, and one paid by invoice
only to plans paid by invoice: the page lists the plans you can move to.
""",
    },
    {
        "slug": "cancel-subscription",
        "title": "How do I cancel my subscription?",
        "content_type": "faq",
        "tags": ["cancel", "subscriptions", "cancellation"],
        "summary": "Cancel from the Subscription page: at the period end, or now.",
        "body": """Go to the [Subscription](/billing/subscription/) page and choose **Cancel at
period end**: you keep your plan until the period you paid for ends, and you are not charged
again; until then you can resume it from the same page. Cancelling now ends the plan at once,
and the unused part of the period is not refunded.

Cancelling does not delete your account or your data, and credits from credit packs stay
usable until they expire. Plan credits stop being granted once the subscription ends.
""",
    },
    {
        "slug": "refund-policy",
        "title": "Refund policy",
        "content_type": "policy",
        "tags": ["refunds", "money back", "policy"],
        "summary": "When we refund, how much, and how long it takes to reach you.",
        "body": """## What we refund

- **New subscriptions:** a full refund if you ask within 14 days of your first payment.
- **Renewals:** yearly renewals can be refunded within 14 days of the renewal charge;
  monthly renewals are not refunded, but you can cancel so you are not charged again.
- **Credit packs:** unused packs are refundable within 14 days of purchase. Credits already
  used are deducted from the refund.
- **Duplicate or mistaken charges:** always refunded in full.

## How long it takes

Card refunds go back to the card you paid with and usually appear within 5 to 10 business
days, depending on your bank. Orders paid by bank transfer are refunded by bank transfer.
You get an e-mail when a refund is issued.

## Partial refunds

Part of an order can be refunded. The order then shows as partially refunded, and the
[Payments](/billing/payments/) page shows each refund next to the payment it returned.
""",
    },
    {
        "slug": "request-refund",
        "title": "How do I ask for a refund?",
        "content_type": "faq",
        "tags": ["refunds", "billing"],
        "summary": "Open a ticket about the order; you get an e-mail when the refund is issued.",
        "body": """Open a support ticket about the order, with its order number, so our team sees
exactly what you paid. Tell us why you want a refund: it helps us improve.

We answer within our support hours. Once the refund is issued you get an e-mail, the order
shows as refunded or partially refunded, and the refund appears on the
[Payments](/billing/payments/) page.
See the refund policy for what can be refunded and how long the money takes to arrive.
""",
    },
    {
        "slug": "failed-payment",
        "title": "My payment failed: what happens now?",
        "content_type": "faq",
        "tags": ["failed payment", "past due", "card declined", "subscriptions"],
        "summary": "Card: Stripe retries; invoice: pay it to keep your plan.",
        "body": """When a card renewal fails, your subscription becomes **past due** and we e-mail
you. Stripe retries the payment over the following days. Update your card with **Manage saved
cards** on the [Payments](/billing/payments/) page (or **Update payment method** on the
[Subscription](/billing/subscription/) page) and
the next retry charges it. If every retry fails, the subscription ends.

An invoice not paid by its due date also makes the subscription past due; pay it with the
reference it shows. After 30 days past due (the default) the subscription becomes unpaid and
loses its plan.

Common causes of a declined card are an expired card, insufficient funds, or your bank
blocking an online or foreign payment: your bank can tell you which.
""",
    },
    {
        "slug": "what-are-credits",
        "title": "What are credits?",
        "content_type": "guide",
        "tags": ["credits", "usage", "balance"],
        "summary": "Credits pay for metered features such as AI text, images and video.",
        "body": """Credits are how metered features are paid for. Each operation costs a set
number of credits, for example an AI text chat, an image generation or a video generation.
The current costs are listed on [Credits](/credits/); some plans include lower costs.

Your balance is taken down when an operation runs. If your balance is too low, the operation
is refused and nothing is charged. Your usage history lists every credit spent or received,
with the balance after each movement.
""",
    },
    {
        "slug": "credit-expiry",
        "title": "When do credits expire?",
        "content_type": "faq",
        "tags": ["credits", "expiry", "expiration"],
        "summary": "Plan credits expire at the end of the period; pack credits after 12 months.",
        "body": """Credits arrive in lots, each with its own expiry date:

- **Plan credits** are granted each billing period and expire at the end of that period.
- **Credit packs** expire 12 months after purchase.
- **Sign-up bonus** credits expire 30 days after you join.
- **Credits added by our support team** do not expire unless we tell you otherwise.

When you use credits, they are taken from the lot that expires first, so you never lose
credits you could have used. Your credits page shows what expires in the next 7 days.
Expired credits are removed from your balance and listed in your usage history.
""",
    },
    {
        "slug": "buy-credit-packs",
        "title": "Buying credit packs",
        "content_type": "guide",
        "tags": ["credits", "credit packs", "top up", "purchase"],
        "summary": "Top up your balance with a one-time credit pack at any time.",
        "body": """Need more credits before your plan renews? Buy a credit pack from the
catalog. Packs are one-time purchases: they are added to your balance as soon as the payment
succeeds, and they expire 12 months after purchase.

Packs work on every plan, including the free tier. If you regularly run out, a bigger plan
usually costs less per credit than buying packs.
""",
    },
    {
        "slug": "credits-not-received",
        "title": "I paid but my credits did not arrive",
        "content_type": "faq",
        "tags": ["credits", "credit packs", "missing", "payment"],
        "summary": "Credits arrive when the payment is confirmed; usually within a minute.",
        "body": """Credits are added when the payment is confirmed. For card payments this
normally takes less than a minute; bank transfers take until the money reaches us.

Check [Orders](/orders/): if the order shows as completed but the credits are not in your
usage history, open a ticket linked to that order and we will add them. We never charge
twice for the same order, so please do not buy the pack again.
""",
    },
    {
        "slug": "credits-refund-on-failure",
        "title": "Do I get credits back when an operation fails?",
        "content_type": "faq",
        "tags": ["credits", "refunds", "errors"],
        "summary": "Yes: failed operations return their credits automatically.",
        "body": """Yes. If an operation fails on our side after credits were taken, the
credits are returned to your balance automatically and the refund appears in your usage
history as a separate line.

If you think an operation gave a poor result rather than failing, open a ticket with the
date and time: our team can review it and adjust your balance.
""",
    },
    {
        "slug": "api-keys",
        "title": "Creating and revoking API keys",
        "content_type": "guide",
        "tags": ["api", "api keys", "developers", "security"],
        "summary": "Create keys on the API keys page; the full key is shown only once.",
        "body": """API keys let your own software call our API. They come with plans that
include API access (the [pricing](/pricing/) page lists what each plan includes); without it,
the API keys page names the plans that do. Create a key on the
[API keys](/account/api-keys/) page, give it a name, and copy it: the full key is shown
**only once**. We store only a
hash of it; afterwards you will see just its prefix.

Send the key in the `Authorization` header of each request. Keep it secret: anyone with the
key can act as you through the API.

If a key may have leaked, revoke it on the same page: it stops working immediately. Create
a new one and update your software. The page shows when each key was last used.
""",
    },
    {
        "slug": "api-errors",
        "title": "Understanding API errors",
        "content_type": "guide",
        "tags": ["api", "errors", "developers"],
        "summary": "Every error has a stable code and a human message.",
        "body": """Every API error returns JSON with a stable `code`, a human-readable
`detail` and, for invalid input, the `fields` that were wrong.

- `400` with `invalid`: fix the fields listed and try again.
- `401`: the API key is missing, revoked or expired.
- `403` with `entitlement_required`: your plan does not include this (API access, a feature
  or a download); the error names the plans that do.
- `402` or `400` with `insufficient_credits`: top up your balance.
- `404`: the object does not exist, or it is not yours.
- `409`: the request conflicts with the object's current state.

Build your error handling on the `code`, not on the message text.
""",
    },
    {
        "slug": "export-your-data",
        "title": "Downloading a copy of your data",
        "content_type": "guide",
        "tags": ["data export", "privacy", "gdpr", "account"],
        "summary": "Download my data gives you one JSON file.",
        "body": """You can download everything we hold about you at any time from [Download my
data](/account/export/). You get one JSON file with your profile, orders, invoices,
subscriptions, credit history, support tickets and help-bot conversations, and the files you
uploaded.

The export is generated on request, so it is always current.
""",
    },
    {
        "slug": "delete-account",
        "title": "Deleting your account",
        "content_type": "policy",
        "tags": ["account deletion", "privacy", "gdpr", "close account"],
        "summary": "What deletion removes, what we must keep, and how to start it.",
        "body": """You can delete your account on the [Delete account](/account/delete/) page.
Cancel any active subscription first; we ask you to confirm with your password.

When you delete your account we anonymise your personal data: your name, e-mail, phone,
address and uploaded files are removed, and you can no longer sign in. Remaining credits are
forfeited.

We keep financial records (orders, invoices, payments and refunds) for as long as tax law
requires, without your personal details attached. Deletion cannot be undone, so download a
copy of your data first if you want one.
""",
    },
    {
        "slug": "account-security",
        "title": "Keeping your account secure",
        "content_type": "guide",
        "tags": ["security", "password", "sessions", "login"],
        "summary": "Strong passwords, session review, and what we do to protect you.",
        "body": """Use a long, unique password: we refuse common and too-short passwords.
After several failed sign-in attempts, sign-in is paused for 15 minutes to stop guessing.

[Sessions](/account/sessions/) lists every browser signed in to your account with its location and
last activity. Sign out any session you do not recognise, then change your password.

Personal details such as your phone number, date of birth, tax id and billing address are
encrypted in our database. Card numbers never reach our servers: Stripe handles them.

We will never ask for your password by e-mail or in a support ticket.
""",
    },
    {
        "slug": "support-hours-and-response-times",
        "title": "Support hours and response times",
        "content_type": "policy",
        "tags": ["support", "sla", "response time", "hours"],
        "summary": "Our first-response and resolution targets by priority.",
        "body": """Our team answers tickets Monday to Friday, 08:00 to 18:00 UK time. The
help bot and the help centre are available around the clock.

Our response targets by ticket priority:

| Priority | First response | Resolution target |
| --- | --- | --- |
| Urgent | 2 hours | 8 hours |
| High | 8 hours | 24 hours |
| Medium | 24 hours | 3 days |
| Low | 48 hours | 7 days |

Choosing **High** needs a plan that includes priority support. Urgent is for outages and
payment emergencies; our team sets it after triage. When we are
waiting for information from you, the ticket shows **Waiting on customer**.
""",
    },
    {
        "slug": "how-tickets-work",
        "title": "How support tickets work",
        "content_type": "faq",
        "tags": ["support", "tickets", "reopen"],
        "summary": "Open, reply, reopen within 14 days, and automatic closing.",
        "body": """[Open a ticket](/support/new/) or hand over a help-bot chat.
You can attach screenshots, PDFs, text or CSV files up to 10 MB each.

We reply by e-mail and on the ticket page. When we mark a ticket **resolved**, you can
reply within 14 days to reopen it. Resolved tickets close automatically after 7 days; after
that, please open a new ticket and mention the old number.

You can close your own ticket at any time if the problem has gone away.
""",
    },
    {
        "slug": "trial-extension",
        "title": "Can my free trial be extended?",
        "content_type": "faq",
        "tags": ["trial", "subscriptions"],
        "summary": "Ask support before the trial ends; extensions are decided case by case.",
        "body": """Trials last the number of days shown on the plan. If you need more time to
evaluate, open a ticket before the trial ends and tell us what you are testing. Our team can
extend a trial once; you will not be charged until the new end date.
""",
    },
    {
        "slug": "discount-codes",
        "title": "Using a discount code",
        "content_type": "faq",
        "tags": ["discounts", "coupons", "checkout"],
        "summary": "Enter it in the cart or on the subscribe page; its limits hold.",
        "body": """Enter your code in the cart, or on a plan's subscribe page; it is not case
sensitive. A code may be limited to some products, a minimum order amount, first-time customers, a
number of uses in all or per customer, or a validity period, and these limits count orders and
subscriptions together: a first-purchase code is used once. The page tells you which rule
stopped a code from applying.

Campaign codes (for example from a partner or a newsletter) have their own limits on top of
the discount's: a number of uses, one per customer, first-time customers only, dates or a
minimum amount.

On a subscription the discount lasts as long as the code says: the first invoice only, a
number of months, or every renewal; each invoice it applies to names the code. Codes cannot be
added to an order after it has been placed.
""",
    },
]
