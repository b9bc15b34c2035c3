"""The staff console for the support desk.

Ticket fields are read-only in the form: every change (reply, internal note, status, priority,
assignment, merge, approvals) goes through ``support.services`` / ``support.approvals`` from
the small forms on the ticket page and the list actions, so the state machine, audit log and
e-mails apply exactly as they do everywhere else.

One module per topic: tickets (with ``desk``: their filters and forms), help articles, the
help bot's conversations, approval requests. Importing this package registers them all.
"""

from support.admin import approval_requests, articles, helpbot, tickets  # noqa: F401 - each module registers its model admins
