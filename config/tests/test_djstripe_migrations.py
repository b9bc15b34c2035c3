"""dj-stripe's squashed migration (config/djstripe_migrations/0001_squashed_2_11.py).

The squash must build exactly the state dj-stripe's own migrations build, and a database that
recorded those originals must see it as applied. States are compared without touching the
database, so these tests take a few seconds.
"""

import pkgutil

import djstripe.migrations
import pytest
from django.conf import settings
from django.db import connection, migrations, models
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from config.djstripe_migrations._one_pass import CreateModelsInOnePass
from core.dbroles import as_owner

SQUASH = ("djstripe", "0001_squashed_2_11")
UPSTREAM_NAMES = sorted(
    module.name for module in pkgutil.iter_modules(djstripe.migrations.__path__)
)
ORIGINALS = [("djstripe", name) for name in UPSTREAM_NAMES]


def _djstripe_state(loader):
    (leaf,) = loader.graph.leaf_nodes("djstripe")
    state = loader.project_state(leaf)
    return {name: model for (app, name), model in state.models.items() if app == "djstripe"}


def _describe(model_state):
    return {
        # deconstruct()[0] is the attribute name, already the key here.
        "fields": {name: field.deconstruct()[1:] for name, field in model_state.fields.items()},
        "options": model_state.options,
        "bases": model_state.bases,
        "managers": [(name, manager.deconstruct()) for name, manager in model_state.managers],
    }


@pytest.fixture(scope="module")
def upstream_state():
    # The loader reads settings.MIGRATION_MODULES when it runs, so pointing dj-stripe back at
    # its own package for the duration of one load is enough.
    upstream = {**settings.MIGRATION_MODULES, "djstripe": "djstripe.migrations"}
    with override_settings(MIGRATION_MODULES=upstream):
        loader = MigrationLoader(None, ignore_no_migrations=True)
        assert loader.graph.leaf_nodes("djstripe") == [ORIGINALS[-1]]
        return _djstripe_state(loader)


@pytest.fixture(scope="module")
def squashed_state():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    assert loader.graph.leaf_nodes("djstripe") == [SQUASH]
    return _djstripe_state(loader)


def test_squash_replaces_every_upstream_migration_and_each_keeps_a_re_export():
    loader = MigrationLoader(None, ignore_no_migrations=True, replace_migrations=False)

    assert ORIGINALS == [
        ("djstripe", "0001_initial"),
        ("djstripe", "0002_2_10"),
        ("djstripe", "0003_2_11"),
    ]
    assert loader.disk_migrations[SQUASH].replaces == ORIGINALS
    for key in ORIGINALS:
        assert loader.disk_migrations[key].__module__ == f"djstripe.migrations.{key[1]}"


def test_squash_builds_the_same_models_as_dj_stripes_own_migrations(upstream_state, squashed_state):
    assert sorted(squashed_state) == sorted(upstream_state)
    assert len(squashed_state) > 50
    for name, model_state in upstream_state.items():
        assert _describe(squashed_state[name]) == _describe(model_state), name


def test_squash_keeps_foreign_keys_on_the_configured_to_field_and_subscriber_model(
    squashed_state,
):
    customer = squashed_state["customer"]
    owner = customer.fields["djstripe_owner_account"].deconstruct()[3]
    subscriber = customer.fields["subscriber"].deconstruct()[3]

    assert owner["to"] == "djstripe.account"
    assert owner["to_field"] == settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD
    # Migration state spells model references in lower case.
    assert subscriber["to"] == settings.AUTH_USER_MODEL.lower()


def _relations(apps, keys):
    described = {}
    for key in keys:
        model = apps.get_model(*key)
        if model._meta.swapped:
            # auth.User, replaced by AUTH_USER_MODEL: Django's own CreateModel leaves it
            # pointing at earlier classes too, and nothing uses it.
            continue
        fields = []
        for field in model._meta.get_fields(include_hidden=True):
            target = field.related_model
            if target is not None:
                # A stale class left over from an earlier render would fail this.
                assert target is apps.get_model(target._meta.label_lower), (key, field.name)
                target = target._meta.label_lower
            fields.append((field.name, target))
        described[key] = sorted(fields)
    return described


def test_one_pass_leaves_the_rendered_models_a_fresh_render_builds():
    # During migrate the state is rendered, and the operation must render the new models
    # itself; loading a state (as above) never takes that path.
    loader = MigrationLoader(None, ignore_no_migrations=True)
    before = loader.project_state(SQUASH, at_end=False)
    assert before.apps.get_model(settings.AUTH_USER_MODEL)

    after = loader.graph.nodes[SQUASH].mutate_state(before, preserve=True)
    fresh = loader.project_state(SQUASH).apps

    assert sum(app == "djstripe" for app, name in after.models) > 50
    assert _relations(after.apps, after.models) == _relations(fresh, after.models)


def test_one_pass_refuses_operations_it_would_not_apply_faithfully():
    create = migrations.CreateModel("Thing", [("id", models.AutoField(primary_key=True))])
    add_elsewhere = migrations.AddField("other", "note", models.TextField(default=""))

    with pytest.raises(ValueError, match="RunSQL is not supported"):
        CreateModelsInOnePass([create, migrations.RunSQL("SELECT 1")])
    with pytest.raises(ValueError, match="only AddField on a model created here"):
        CreateModelsInOnePass([create, add_elsewhere])


def _record_only(recorded):
    recorder = MigrationRecorder(connection)
    with as_owner():  # only the owner writes django_migrations (core.dbroles)
        for key in [SQUASH, *ORIGINALS]:
            recorder.record_unapplied(*key)
        for key in recorded:
            recorder.record_applied(*key)


def _djstripe_plan():
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return executor.loader, [
        (migration.app_label, migration.name)
        for migration, backwards in plan
        if migration.app_label == "djstripe" and not backwards
    ]


@pytest.mark.django_db
def test_database_that_recorded_the_originals_treats_the_squash_as_applied():
    _record_only(ORIGINALS)

    loader, plan = _djstripe_plan()

    assert SQUASH in loader.applied_migrations
    assert SQUASH in loader.graph.nodes
    assert not set(ORIGINALS) & set(loader.graph.nodes)
    assert plan == []


@pytest.mark.django_db
def test_database_with_some_originals_recorded_finishes_with_the_originals():
    # A migrate stopped between dj-stripe's migrations: only the re-exports can continue it.
    _record_only(ORIGINALS[:1])

    loader, plan = _djstripe_plan()

    assert SQUASH not in loader.graph.nodes
    assert plan == ORIGINALS[1:]


@pytest.mark.django_db
def test_empty_database_applies_only_the_squash():
    _record_only([])

    loader, plan = _djstripe_plan()

    assert not set(ORIGINALS) & set(loader.graph.nodes)
    assert plan == [SQUASH]
