"""The one audited admin base: every add, edit and delete made in the console is written to
the audit log in the same transaction as the change."""

from django.contrib import admin
from django.db import transaction

from core.audit import record
from core.models import AuditAction


def _concrete(obj) -> set[str]:
    return {f.name for f in obj._meta.concrete_fields}


def _deleted(request, obj) -> None:
    record(
        actor=request.user,
        action=AuditAction.DELETE,
        resource=obj,
        old={"repr": str(obj)},
        via="admin",
    )


class AuditedAdmin(admin.ModelAdmin):
    """Writes an audit row for every add, edit and delete made in the console (inline rows
    too), in the transaction of the change: the fields changed, their old and new values.

    ``audit_unshown_fields`` are fields too long to copy into the log (an article's body): the
    row says only that they changed (``<field>_changed``). ``on_change`` runs in the change's
    transaction before it is made (the catalog drops its cached public answers there)."""

    audit_unshown_fields: tuple[str, ...] = ()

    def on_change(self) -> None:
        """Called in the transaction of every add, edit and delete, before it is made."""

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            self.on_change()
            changed = [f for f in form.changed_data if f in _concrete(obj)]
            shown = [f for f in changed if f not in self.audit_unshown_fields]
            old = {}
            if change and shown:
                old = type(obj)._base_manager.filter(pk=obj.pk).values(*shown).first() or {}
            super().save_model(request, obj, form, change)
            if change and not form.changed_data:
                return
            unshown = {f"{f}_changed": True for f in changed if f not in shown}
            record(
                actor=request.user,
                action=AuditAction.UPDATE if change else AuditAction.CREATE,
                resource=obj,
                old=old,
                new={f: getattr(obj, f, None) for f in shown},
                via="admin",
                **unshown,
            )

    def save_formset(self, request, form, formset, change):
        # Inline rows (prices, variants, tiers, collection items) are audited like the parent.
        with transaction.atomic():
            self.on_change()
            instances = formset.save(commit=False)
            for obj in formset.deleted_objects:
                _deleted(request, obj)
                obj.delete()
            for obj in instances:
                adding = obj.pk is None
                obj.save()
                record(
                    actor=request.user,
                    action=AuditAction.CREATE if adding else AuditAction.UPDATE,
                    resource=obj,
                    new={"repr": str(obj)},
                    via="admin",
                )
            formset.save_m2m()

    def delete_model(self, request, obj):
        with transaction.atomic():
            self.on_change()
            _deleted(request, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            self.on_change()
            for obj in queryset:
                _deleted(request, obj)
            super().delete_queryset(request, queryset)
