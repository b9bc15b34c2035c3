"""PostgreSQL pieces that migrations share."""

from django.db import migrations


def append_only(table: str) -> migrations.RunSQL:
    """A trigger that makes ``table`` insert-only: PostgreSQL refuses UPDATE and DELETE.

    TRUNCATE is left alone on purpose: test databases are flushed with it between
    transactional tests, and no application code path issues it.
    """
    function = f"{table}_append_only"
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
