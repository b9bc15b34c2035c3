"""Compute the semantic vectors of help articles (``support_article_embedding``).

Only articles whose text changed since their last vector are embedded, unless ``--force``.
Without pgvector on this database, or without the embedding model, it says so and exits 0:
search then ranks by full text alone.
"""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from support import embeddings
from support.models import Article


class Command(BaseCommand):
    help = "Embed help articles for semantic search (needs pgvector; skips unchanged ones)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Recompute every vector, changed or not."
        )

    def handle(self, *args, **options):
        embeddings.reset_availability()
        if not embeddings.available():
            self.stdout.write(
                "pgvector is not available on this database: search uses full "
                "text alone. Nothing embedded."
            )
            return
        if embeddings.encoder() is None:
            self.stdout.write(
                "The embedding model could not be loaded (see the log): search "
                "uses full text alone. Nothing embedded."
            )
            return
        articles = Article.objects.order_by("pk")
        done = 0
        for article in tqdm(
            articles.iterator(),
            total=articles.count(),
            unit="article",
            disable=options["verbosity"] < 1,
            file=self.stderr,
        ):
            done += embeddings.embed_articles([article], force=options["force"])
        self.stdout.write(
            f"Article embeddings: {done} computed, "
            f"{articles.count() - done} unchanged ({embeddings.MODEL_NAME})."
        )
