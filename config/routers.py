"""Which database a query goes to.

With ``REPLICA_DATABASE_URL`` set (a streaming replica of the primary), the analytics rollups
are read from the replica: the dashboard, the metrics API and the CSV export are the heavy
readers that can be a few seconds behind. Every other read, and every write (the rollup task
included), goes to the primary, so a request always sees what it has just written.
"""

from django.conf import settings

REPLICA = "replica"
READ_FROM_REPLICA = frozenset({"analytics"})


class AnalyticsReplicaRouter:
    def db_for_read(self, model, **hints):
        if model._meta.app_label in READ_FROM_REPLICA and REPLICA in settings.DATABASES:
            return REPLICA
        return None

    def db_for_write(self, model, **hints):
        return None  # the primary

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the primary's rows: a rollup read there may point at a user.
        if {obj1._state.db, obj2._state.db} <= {"default", REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, **hints):
        # The replica follows the primary's schema through replication, never by migrating.
        return False if db == REPLICA else None
