"""The staff console's site: every model admin registered on it follows the staff policy
and has the console's look.

The site is django-unfold's (navigation by job, dark mode, its list and form styling): every
model admin registered on it is composed with unfold's ``ModelAdmin`` as well as the policy's
checks (``backoffice.policy``) and the customer links (``backoffice.customers``), so an app's
plain ``admin.ModelAdmin`` looks like the rest of the console. The building blocks apps'
admins use are in ``backoffice``.
"""

from django.contrib import admin
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.sites import UnfoldAdminSite

from backoffice.customers import CustomerLinksMixin
from backoffice.policy import PolicyAdminMixin


class StaffSite(UnfoldAdminSite):
    """The admin site: every registered model admin gets the policy's checks and the
    console's look (unfold's ``ModelAdmin``, composed after the app's own class so the
    app's choices win). Its index shows the console's job groups (``console.navigation``)."""

    index_template = "console/index.html"
    index_title = "Staff console"
    site_header = "Billing back office: staff console"
    site_title = "Staff console"

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if issubclass(UnfoldModelAdmin, admin_class):  # Django's own ModelAdmin itself
            admin_class = UnfoldModelAdmin
        bases = [] if issubclass(admin_class, PolicyAdminMixin) else [PolicyAdminMixin]
        if not issubclass(admin_class, CustomerLinksMixin):
            bases.append(CustomerLinksMixin)
        bases.append(admin_class)
        if not issubclass(admin_class, UnfoldModelAdmin):
            bases.append(UnfoldModelAdmin)
        if len(bases) > 1:
            admin_class = type(
                admin_class.__name__,
                tuple(bases),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        return super().register(model_or_iterable, admin_class, **options)
