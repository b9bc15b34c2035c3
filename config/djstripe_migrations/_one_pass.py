"""An operation that applies a migration's CreateModel/AddField list with one state render.

Django keeps the migration state rendered while it migrates and, after each CreateModel or
relational AddField, re-renders the new model together with every model it is related to,
recursively. All of dj-stripe's models point at Account, so each of the squash's 74 operations
re-rendered every dj-stripe model created before it: about 2,600 model classes built, most of
the squash's time. This operation updates the state for all of them with rendering off, renders
the new models once, then creates each table from its final model. The state it leaves is
exactly what the wrapped operations leave one by one (the same state_forwards calls, in the
same order). The schema is the same too (pg_dump --schema-only compared): a column an AddField
would add comes in CREATE TABLE instead of a later ALTER TABLE, still in last place, and
PostgreSQL's schema editor defers every foreign key constraint of a CREATE TABLE to the end of
the migration either way, so the order in which the tables are created does not matter.

The file name starts with "_" so Django's migration loader does not take it for a migration.
"""

from django.db import migrations


class CreateModelsInOnePass(migrations.operations.base.Operation):
    """Apply ``operations`` (CreateModel, and AddField on those models) as one step.

    ``manage.py migrate --fake-initial`` does not look inside this operation, so it will not
    fake a migration made of it; ``sqlmigrate`` and reversing the migration work.
    """

    def __init__(self, operations):
        created = {op.name_lower for op in operations if isinstance(op, migrations.CreateModel)}
        for op in operations:
            if isinstance(op, migrations.CreateModel):
                if op.options.get("index_together"):
                    raise ValueError(f"{op.name}: index_together is not supported here")
            elif isinstance(op, migrations.AddField):
                if op.model_name_lower not in created or not op.preserve_default:
                    raise ValueError(
                        f"{op.model_name}.{op.name}: only AddField on a model "
                        f"created here, with preserve_default, is supported"
                    )
            else:
                raise ValueError(f"{type(op).__name__} is not supported here")
        self.operations = operations

    def describe(self):
        count = sum(isinstance(op, migrations.CreateModel) for op in self.operations)
        return f"Create {count} models in one pass"

    def state_forwards(self, app_label, state):
        # Without a rendered registry, add_model/add_field only record the model states.
        apps = state.__dict__.pop("apps", None)
        try:
            for op in self.operations:
                op.state_forwards(app_label, state)
        finally:
            if apps is not None:
                state.__dict__["apps"] = apps
        state.reload_models(
            [(app_label, op.name_lower) for op in self._create_models()], delay=False
        )

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        alias = schema_editor.connection.alias
        for op in self._create_models():
            model = to_state.apps.get_model(app_label, op.name)
            if self.allow_migrate_model(alias, model):
                schema_editor.create_model(model)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        alias = schema_editor.connection.alias
        for op in reversed(self._create_models()):
            model = from_state.apps.get_model(app_label, op.name)
            if self.allow_migrate_model(alias, model):
                schema_editor.delete_model(model)

    def _create_models(self):
        return [op for op in self.operations if isinstance(op, migrations.CreateModel)]
