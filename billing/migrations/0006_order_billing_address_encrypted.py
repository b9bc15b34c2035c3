"""Order.billing_address: encrypted at rest, address fields only.

The old column was plain jsonb holding whatever a client sent (extra keys included). Each
existing address is copied into a new encrypted column keeping only the address fields
(accounts.profile.ADDRESS_KEYS), then the plaintext column is dropped and the new one takes
its name. Empty addresses become NULL. Reversible: going back writes the decrypted address
fields into a jsonb column again.
"""

from django.db import migrations

import core.fields

BATCH_SIZE = 500


def _address_fields(value) -> dict | None:
    from accounts.profile import ADDRESS_KEYS

    if not isinstance(value, dict):
        return None
    kept = {}
    for key in ADDRESS_KEYS:
        text = "" if value.get(key) is None else str(value[key]).strip()
        if text:
            kept[key] = text
    return kept or None


def encrypt_existing(apps, schema_editor):
    Order = apps.get_model("billing", "Order")
    rows = (Order.objects.exclude(billing_address={}).exclude(billing_address=None)
            .values_list("pk", "billing_address").order_by("pk"))
    for pk, value in rows.iterator(chunk_size=BATCH_SIZE):
        kept = _address_fields(value)
        if kept is not None:
            # The field encrypts on the way to the database.
            Order.objects.filter(pk=pk).update(billing_address_encrypted=kept)


def decrypt_back(apps, schema_editor):
    Order = apps.get_model("billing", "Order")
    rows = (Order.objects.filter(billing_address_encrypted__isnull=False)
            .values_list("pk", "billing_address_encrypted").order_by("pk"))
    for pk, value in rows.iterator(chunk_size=BATCH_SIZE):
        Order.objects.filter(pk=pk).update(billing_address=value or {})


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0005_stripe_customer_mirror"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="billing_address_encrypted",
            field=core.fields.EncryptedJSONField(blank=True, null=True),
        ),
        migrations.RunPython(encrypt_existing, decrypt_back),
        migrations.RemoveField(
            model_name="order",
            name="billing_address",
        ),
        migrations.RenameField(
            model_name="order",
            old_name="billing_address_encrypted",
            new_name="billing_address",
        ),
    ]
