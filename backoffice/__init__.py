"""Building blocks of the staff console that every app's ``admin.py`` uses.

- ``policy``: admin actions and custom admin URLs that follow the staff policy
  (``policy_action``, ``PolicyAdminMixin``, ``perform``);
- ``customers``: list columns that link a customer to their customer page;
- ``audited``: the one audited admin base (adds, edits and deletes written to the audit log);
- ``readonly``: admins and inlines of rows written only by services;
- ``confirm``: admin actions that ask once before they run;
- ``forms``: ``MoneyField``, an amount typed in major units;
- ``tables``, ``periods``, ``search``, ``rendering``: changelists of tables that grow without
  bound, kept to index reads.

This package sits above ``accounts`` and below every feature app: it imports no feature app
and nothing from ``config`` but the shared modules (API errors, audit log, money formatting).
"""
