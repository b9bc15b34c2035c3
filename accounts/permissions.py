"""What the SUPPORT role may do in the staff console.

Support agents see everything (view permissions) and work tickets, but cannot change roles,
users' status beyond what admin actions allow, money settings or the audit log. ADMIN may do
everything; CUSTOMER nothing.
"""

# App labels whose models support agents may add and change (not delete).
SUPPORT_EDITABLE_APPS = {"support"}
SUPPORT_EXTRA_PERMISSIONS = {
    "accounts.change_user",  # edit profile fields; the role field stays read-only for them
}


def support_has_perm(perm: str) -> bool:
    app_label, _, codename = perm.partition(".")
    if codename.startswith("view_"):
        return True
    if perm in SUPPORT_EXTRA_PERMISSIONS:
        return True
    return app_label in SUPPORT_EDITABLE_APPS and codename.startswith(("add_", "change_"))
