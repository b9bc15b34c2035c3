"""What every model admin of the catalog shares."""

from backoffice.audited import AuditedAdmin as BaseAuditedAdmin
from catalog.public_cache import catalog_changed


class AuditedAdmin(BaseAuditedAdmin):
    """Audited like every console edit, and drops the public API's cached answers
    (catalog.public_cache) once the change commits."""

    def on_change(self) -> None:
        catalog_changed()
