"""Deployment checks Django's own do not make (``manage.py check --deploy``)."""

from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.checks import Error, Tags, register


@register(Tags.staticfiles, deploy=True)
def static_manifest_exists(app_configs, **kwargs) -> list[Error]:
    """With a manifest storage (production's), every ``{% static %}`` looks its file up in the
    manifest that collectstatic writes; without it each page answers 500, so refuse to pass
    the deployment check instead."""
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return []
    if staticfiles_storage.exists(staticfiles_storage.manifest_name):
        return []
    where = getattr(staticfiles_storage, "location", "STATIC_ROOT")
    return [
        Error(
            f"The static files manifest {staticfiles_storage.manifest_name} is missing from "
            f"{where}: "
            "collectstatic has not been run for this release, and every page would fail.",
            hint="Run `python manage.py collectstatic --noinput` with these settings "
            "(STATIC_ROOT decides where it writes).",
            id="config.E001",
        )
    ]
