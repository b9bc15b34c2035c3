"""Help-centre articles seeded by ``manage.py seed_support`` (idempotent by slug)."""

ARTICLES = [
    {
        "slug": "how-billing-works",
        "title": "How billing works",
        "content_type": "guide",
        "tags": ["billing", "payments", "stripe"],
        "summary": "Card payments through Stripe or payment by invoice: what is charged, when.",
        "body": """## Two ways to pay

Most customers pay by card. Card payments are processed by Stripe: we never see or store
your full card number, only its brand, last four digits and expiry date.

Business customers on an annual plan can ask to pay by invoice (bank transfer). Invoices
are due within 14 days and show the payment reference to write on your transfer.

## When you are charged

Subscriptions are charged at the start of each billing period, monthly or yearly. One-time
purchases such as credit packs are charged when you check out. You receive an e-mail receipt
and the invoice appears in [Invoices](/billing/invoices/).

## Currencies and tax

Prices are shown in your billing currency. Sales tax or VAT is added where it applies and is
listed on every invoice line.
""",
    },
    {
        "slug": "download-invoices",
        "title": "Where do I find my invoices?",
        "content_type": "faq",
        "tags": ["invoices", "billing", "receipts"],
        "summary": "Every invoice is on the Invoices page, viewable and printable.",
        "body": """Every invoice we issue is listed on [Invoices](/billing/invoices/), newest first.
Open one to see its lines, tax, amount paid and amount due; use your browser's print button
to save it as a PDF.

Invoices show our business name, address and tax number, and your billing address and tax
id as they were when the invoice was issued. To change the details on future invoices,
update your billing address on your [profile](/account/profile/) before the next charge.

If an invoice is missing, check that you are signed in with the account that paid. Still
missing? Open a ticket and include the date and amount of the charge.
""",
    },
    {
        "slug": "invoice-details-wrong",
        "title": "My invoice shows the wrong company name or tax id",
        "content_type": "faq",
        "tags": ["invoices", "vat", "tax id"],
        "summary": "Update your billing details; we can reissue a corrected invoice.",
        "body": """Invoices use the billing address and tax id saved on your account when the
invoice was issued. Update them on your [profile](/account/profile/): future invoices use
the new details straight away.

For an invoice that was already issued, open a ticket with the invoice number and the
correct details. Paid invoices cannot be edited, but our team can void and reissue a
corrected copy for the same amount.
""",
    },
    {
        "slug": "subscription-plans",
        "title": "Choosing a plan: monthly or yearly",
        "content_type": "guide",
        "tags": ["subscriptions", "plans", "pricing"],
        "summary": "What plans include and how monthly and yearly billing differ.",
        "body": """Each plan includes a number of credits every billing period, a storage
quota and a set of features. The pricing page shows both prices for each plan: yearly
billing costs less per month than monthly billing.

Plans with a free trial start in the **trialing** state: you are not charged until the trial
ends, and you can cancel before then at no cost.

Your current plan, its renewal date and the credits it grants are on
[your subscription's page](/billing/subscription/).
""",
    },
    {
        "slug": "change-plan",
        "title": "Upgrading or downgrading your plan",
        "content_type": "guide",
        "tags": ["subscriptions", "upgrade", "downgrade", "plan change"],
        "summary": "Upgrades apply immediately with a prorated charge; downgrades at renewal.",
        "body": """## Upgrading

An upgrade takes effect immediately. You pay the prorated difference for the rest of the
current period, and the new plan's credits are granted straight away.

## Downgrading

A downgrade takes effect at the end of the current billing period, so you keep what you paid
for. Check that your storage use fits the smaller plan's quota before the change.

## Switching between monthly and yearly

Switching from monthly to yearly starts a new yearly period immediately, with the unused
part of your month credited. Switching from yearly to monthly happens at the yearly renewal.
""",
    },
    {
        "slug": "cancel-subscription",
        "title": "How do I cancel my subscription?",
        "content_type": "faq",
        "tags": ["cancel", "subscriptions", "cancellation"],
        "summary": "Cancel on your subscription's page; you keep access until the period ends.",
        "body": """Go to [your subscription's page](/billing/subscription/) and choose **Cancel at
period end**. Your subscription stays active until the end of the period you already paid
for and then ends; you are not charged again.

Changed your mind? Until the period ends you can resume the subscription from the same page.

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

Refunds go back to the card or account you paid with. Card refunds usually appear within 5
to 10 business days, depending on your bank. Refunds of invoices paid by transfer are sent
to the bank account you tell us.

## Partial refunds

Part of an order can be refunded, for example one line of a multi-item order. The order then
shows as partially refunded and the invoice shows the amount returned.
""",
    },
    {
        "slug": "request-refund",
        "title": "How do I ask for a refund?",
        "content_type": "faq",
        "tags": ["refunds", "billing"],
        "summary": "Open a ticket linked to the order; our team confirms by e-mail.",
        "body": """Open a support ticket and choose the order in the **Order number** field,
so our team sees exactly what you paid. Tell us why you want a refund: it helps us improve.

We answer within our support hours. Once the refund is issued you get an e-mail, and the order
shows as refunded or partially refunded in your account. See the refund policy for what can
be refunded and how long the money takes to arrive.
""",
    },
    {
        "slug": "failed-payment",
        "title": "My payment failed: what happens now?",
        "content_type": "faq",
        "tags": ["failed payment", "past due", "card declined", "subscriptions"],
        "summary": "We retry for about a week; update your card to keep your plan.",
        "body": """When a renewal payment fails, your subscription becomes **past due**. We
retry the payment automatically over the following days and e-mail you each time.

You keep your plan for a grace period of 7 days. Update your card on
[your subscription's page](/billing/subscription/) and the next retry charges the new card.
If every retry fails, the subscription is
cancelled and your account falls back to the free tier; your data is kept.

Common causes are an expired card, insufficient funds, or your bank blocking an online or
foreign payment: your bank can tell you which.
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
        "body": """API keys let your own software call our API. Create one on the
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

Urgent is for outages and payment emergencies; our team sets it after triage. When we are
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
        "summary": "Enter the code at checkout; limits and validity dates apply.",
        "body": """Enter your code in the discount field at checkout; it is not case
sensitive. A code may be limited to some products, a minimum order amount, first-time
customers, a number of uses, or a validity period. The checkout tells you which rule stopped
a code from applying.

Codes cannot be added to an order after it has been paid.
""",
    },
]
