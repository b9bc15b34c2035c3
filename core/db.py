"""PostgreSQL pieces that migrations share."""

from django.db import migrations

# The trigger and its function are named <table><suffix>; core.dbroles finds the append-only
# tables by it.
APPEND_ONLY_SUFFIX = "_append_only"


def append_only(table: str) -> migrations.RunSQL:
    """A trigger that makes ``table`` insert-only: PostgreSQL refuses UPDATE and DELETE.

    TRUNCATE, which row triggers do not see, is refused by privileges instead: the
    application's role has only SELECT and INSERT on these tables (core.dbroles), and the
    owner's TRUNCATE is what flushes test databases between transactional tests.
    """
    function = f"{table}{APPEND_ONLY_SUFFIX}"
    return migrations.RunSQL(
        sql=f"""
        CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$ LANGUAGE plpgsql;
        CREATE TRIGGER {function}
            BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {function}();
        """,
        reverse_sql=f"""
        DROP TRIGGER IF EXISTS {function} ON {table};
        DROP FUNCTION IF EXISTS {function}();
        """,
    )
