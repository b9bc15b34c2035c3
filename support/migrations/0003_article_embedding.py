"""Article vectors for semantic search, only where PostgreSQL has pgvector.

The DO block tries ``CREATE EXTENSION vector``; where that fails (extension not installed on
the server, or no privilege) it does nothing, so the migration succeeds everywhere and search
ranks by full text alone. The table is not a Django model (no model state, so
``makemigrations --check`` stays clean): support/embeddings.py reads and writes it with SQL.
No foreign key: Django's flush (TransactionTestCase) truncates support_article without
CASCADE, which a referencing table would refuse. A trigger drops an article's vector when the
article is deleted, and every read joins support_article, so a stale row is never a hit.
"""

from django.db import migrations

CREATE = """
DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS vector;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pgvector unavailable (%): no support_article_embedding table', SQLERRM;
        RETURN;
    END;
    CREATE TABLE IF NOT EXISTS support_article_embedding (
        article_id bigint PRIMARY KEY,
        model varchar(100) NOT NULL,
        content_sha char(64) NOT NULL,
        embedding vector(384) NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS support_article_embedding_hnsw
        ON support_article_embedding USING hnsw (embedding vector_cosine_ops);
    CREATE OR REPLACE FUNCTION support_article_embedding_forget() RETURNS trigger AS $f$
    BEGIN
        DELETE FROM support_article_embedding WHERE article_id = OLD.id;
        RETURN OLD;
    END
    $f$ LANGUAGE plpgsql;
    DROP TRIGGER IF EXISTS support_article_embedding_forget ON support_article;
    CREATE TRIGGER support_article_embedding_forget AFTER DELETE ON support_article
        FOR EACH ROW EXECUTE FUNCTION support_article_embedding_forget();
END
$$;
"""

DROP = """
DROP TRIGGER IF EXISTS support_article_embedding_forget ON support_article;
DROP FUNCTION IF EXISTS support_article_embedding_forget();
DROP TABLE IF EXISTS support_article_embedding;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("support", "0002_ticket_related_billing"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
