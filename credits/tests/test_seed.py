from io import StringIO

import pytest
from django.core.management import call_command

from accounts.factories import UserFactory
from config.celery import app
from credits.models import CreditBalance, CreditTransaction, FeatureCost
from credits.schedules import SCHEDULES


@pytest.mark.django_db
def test_seed_credits_is_idempotent_and_gives_every_customer_the_bonus(customer):
    demo = UserFactory(email="alice@demo.example")

    call_command("seed_credits", stdout=StringIO())
    rows = CreditTransaction.objects.count()
    call_command("seed_credits", stdout=StringIO())

    assert CreditTransaction.objects.count() == rows
    assert FeatureCost.objects.filter(active=True).count() == 5
    assert CreditBalance.objects.get(user=customer).balance == 100
    assert CreditTransaction.objects.filter(user=demo, kind="CONSUME").exists()


def test_periodic_tasks_name_registered_tasks():
    app.loader.import_default_modules()
    assert {entry["task"] for entry in SCHEDULES} <= set(app.tasks)
    assert {entry["name"] for entry in SCHEDULES} == {
        "credits.expire_credits",
        "credits.check_invariant",
        "webhooks_out.batch_consumption",
    }
