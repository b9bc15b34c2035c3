"""The nightly ledger check leaves a record of each run for the monitoring (/metrics, /ops/)."""

import pytest

from credits.factories import funded_user
from credits.models import CreditBalance, InvariantCheck
from credits.selectors import last_invariant_check
from credits.tasks import check_invariant


@pytest.mark.django_db
def test_each_run_of_the_task_is_recorded_with_what_it_found():
    assert last_invariant_check() is None
    user = funded_user(credits=30)
    assert check_invariant.delay().get() == 0
    clean = last_invariant_check()
    assert (clean.violations, clean.sample) == (0, [])

    CreditBalance.objects.filter(user=user).update(balance=31)  # behind the ledger's back
    try:
        assert check_invariant.delay().get() == 1
        found = last_invariant_check()
        assert found.pk != clean.pk and found.violations == 1
        assert found.sample[0]["user_id"] == user.pk
        assert found.sample[0]["problem"] == "balance_mismatch"
        assert InvariantCheck.objects.count() == 2
    finally:
        CreditBalance.objects.filter(user=user).update(balance=30)
