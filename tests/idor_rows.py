"""The rows of one customer that tests/test_security_idor.py walks with another customer's ids:
one of each kind a customer owns, built in the order the views need them (an order before
its invoice, an invoice before its credit note and payment)."""

from allauth.socialaccount.models import SocialAccount
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.factories import LoginSessionFactory, StoredFileFactory
from accounts.services import create_api_key
from billing.factories import OrderFactory, OrderItemFactory, SubscriptionFactory
from billing.models import Cart, CartItem, CreditNote, Invoice, OrderStatus, Payment, Refund
from catalog.factories import PriceFactory, ProductFactory
from catalog.models import ProductType
from files import services as files
from support.factories import ChatMessageFactory, ConversationFactory, TicketFactory
from support.models import TicketMessage


def stored_file(*, owner, name):
    path = default_storage.save(f"idor/{name}", ContentFile(b"%PDF-1.4 test"))
    return StoredFileFactory(owner=owner, name=name, path=path, size_bytes=13)


def shop_rows(owner) -> dict:
    """A completed order of a downloadable product, and a line in the owner's cart."""
    download = stored_file(owner=owner, name="guide.pdf")
    product = ProductFactory(type=ProductType.DIGITAL_DOWNLOAD, download_file=download)
    order = OrderFactory(user=owner, status=OrderStatus.COMPLETED)
    item = OrderItemFactory(order=order, product=product)
    cart = Cart.objects.create(user=owner)
    price = PriceFactory()
    cart_item = CartItem.objects.create(cart=cart, product=price.product, price=price, quantity=2)
    return {"order": order, "item": item, "cart_item": cart_item}


def support_rows(owner) -> dict:
    """A ticket with a message and its attachment, and a chat with the bot's answer."""
    ticket = TicketFactory(customer=owner)
    attachment = stored_file(owner=owner, name="screenshot.pdf")
    message = TicketMessage.objects.create(ticket=ticket, author=owner, body="Mine.")
    message.attachments.add(attachment)
    conversation = ConversationFactory(customer=owner)
    bot_answer = ChatMessageFactory(conversation=conversation)
    return {
        "ticket": ticket,
        "message": message,
        "attachment": attachment,
        "conversation": conversation,
        "bot_answer": bot_answer,
    }


def sign_in_rows(owner) -> dict:
    """A browser session record and an API key."""
    login_session = LoginSessionFactory(user=owner)
    api_key, _ = create_api_key(user=owner, name="theirs")
    return {"login_session": login_session, "api_key": api_key}


def subscription_rows(owner, *, order) -> dict:
    """A subscription and an invoice of it (for ``order``)."""
    subscription = SubscriptionFactory(user=owner)
    invoice = Invoice.objects.create(
        number="INV-IDOR-1",
        user=owner,
        subscription=subscription,
        order=order,
        currency="usd",
        subtotal=1000,
        total=1000,
        amount_due=1000,
    )
    return {"subscription": subscription, "invoice": invoice}


def linked_rows(owner) -> dict:
    """An uploaded file and a linked social sign-in account."""
    customer_file = files.upload(
        user=owner, upload=SimpleUploadedFile("plan.txt", b"ours", "text/plain")
    )

    social_account = SocialAccount.objects.create(
        user=owner, provider="github", uid="idor-1", extra_data={}
    )
    return {"customer_file": customer_file, "social_account": social_account}


def paid_rows(owner, *, invoice) -> dict:
    """A credit note of ``invoice`` and a payment of it."""
    credit_note = credit_note_of(owner, invoice)

    payment = Payment.objects.create(
        user=owner,
        invoice=invoice,
        provider="manual",
        provider_id="IDOR-PAY-1",
        amount=500,
        currency="usd",
    )
    return {"credit_note": credit_note, "payment": payment}


def credit_note_of(user, invoice):
    """A credit note of ``invoice`` (a refund of part of it), as a refund would issue it."""

    invoice.status, invoice.amount_paid, invoice.amount_due = "PAID", 1000, 0
    invoice.refunded_amount = 400
    invoice.save()
    refund = Refund.objects.create(
        invoice=invoice,
        amount=400,
        currency="usd",
        reason="DUPLICATE",
        provider="manual",
        status="SUCCEEDED",
        idempotency_key=f"idor-{invoice.pk}",
    )
    return CreditNote.objects.create(
        number="CN-IDOR-1",
        user=user,
        invoice=invoice,
        refund=refund,
        amount=400,
        currency="usd",
        reason="DUPLICATE",
    )
