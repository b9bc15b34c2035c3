"""Backups are tested against the real server with the real pg_dump and pg_restore: every
database a test makes is named after the session's test database (parallel runs never share
one) and dropped afterwards."""

import time

import psycopg
import pytest
from django.db import connection, connections

from accounts.factories import UserFactory
from billing.factories import OrderFactory, SubscriptionFactory
from config.backups import pgtools
from config.backups.pgtools import Database
from credits.factories import FeatureCostFactory, funded_user
from credits.services import consume_credits


@pytest.fixture
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_STORAGE = None
    settings.BACKUP_KEEP_DAILY = 7
    settings.BACKUP_KEEP_WEEKLY = 4
    return settings.BACKUP_DIR


@pytest.fixture
def test_database(db) -> Database:
    return Database.from_settings(connection.settings_dict)


@pytest.fixture
def make_database(test_database):
    """``make_database("dst")``: the name (on the test server) of a database that does not
    exist yet; whatever a test creates under that name is dropped at the end."""
    made = []

    def make(purpose: str) -> Database:
        db = test_database.with_name(f"{test_database.name}_{purpose}")
        pgtools.drop_database(db)
        made.append(db)
        return db

    yield make
    for db in made:
        pgtools.drop_database(db)


def seed_money_rows():
    """Committed rows in the money tables, written through the real services and factories."""
    operation = FeatureCostFactory(cost=7).operation
    alice = funded_user(credits=100, user=UserFactory(email="alice@backup.example"))
    consume_credits(user=alice, operation=operation, quantity=2)
    bob = funded_user(credits=40, user=UserFactory(email="bob@backup.example"))
    consume_credits(user=bob, operation=operation)
    OrderFactory(user=alice)
    OrderFactory(user=bob, subtotal=4900)
    SubscriptionFactory(user=bob)
    return alice, bob


@pytest.fixture
def source_database(transactional_db, test_database, make_database) -> Database:
    """A copy of the seeded test database (CREATE DATABASE ... TEMPLATE) that a test may back
    up and then drop."""
    seed_money_rows()
    source = make_database("bk_source")
    # A template must have no other session: close ours (Django reopens on the next query).
    connections.close_all()
    with test_database.with_name("postgres").connect(autocommit=True) as conn:
        for attempt in range(20):
            try:
                conn.execute(f'CREATE DATABASE "{source.name}" TEMPLATE "{test_database.name}"')
                break
            except psycopg.errors.ObjectInUse:
                # A session of an earlier test (a thread's connection) is closing; wait for it.
                if attempt == 19:
                    raise
                time.sleep(0.25)
    return source
