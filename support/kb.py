"""Knowledge-base reads: safe Markdown rendering and ranked full-text search.

The search vector is kept by a trigger (title weight A, tags B, body C; migration 0001), so a
title match ranks above a body match. Queries from users go through ``websearch_to_tsquery``
(never raises on any input); when that finds nothing, a forgiving OR-of-prefixes query built
from the words alone is tried, which suits questions typed to the bot or half-typed subjects.

pgvector: the embedded PostgreSQL ships the extension, but embedding articles needs a local
model far larger than this project installs, so ranking is full-text only (no error, no
blending) until an embedding model is added.
"""

import re

import markdown as markdown_lib
import nh3
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from support.models import Article

CONFIG = "english"
# Private-use characters mark highlights in PostgreSQL's output, so the text can be escaped
# first and the markers turned into <mark> afterwards: article text never becomes markup.
_MARK_START = "\ue000"
_MARK_END = "\ue001"
_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_CHARS = 200


def render_markdown(text: str) -> SafeString:
    """Markdown to HTML, then sanitised by nh3 (no scripts, handlers or javascript: links)."""
    html = markdown_lib.markdown(text or "", extensions=["extra", "sane_lists"],
                                 output_format="html")
    return mark_safe(nh3.clean(html, link_rel="noopener noreferrer nofollow"))  # noqa: S308


def snippet_html(headline: str | None) -> SafeString:
    text = escape(headline or "")
    return mark_safe(text.replace(_MARK_START, "<mark>").replace(_MARK_END, "</mark>"))  # noqa: S308


def words(text: str) -> list[str]:
    return [w[:40] for w in _WORD.findall((text or "").lower())][:16]


def any_words_tsquery(text: str) -> str:
    """A to_tsquery string: the text's words OR-ed, each as a prefix. Only letters and digits
    reach it, so it cannot be malformed. One- and two-letter words are left out: as prefixes
    they would match nearly everything."""
    return " | ".join(f"{w}:*" for w in words(text) if len(w) > 2)


def _queries(text: str, mode: str):
    if mode == "auto":
        yield SearchQuery(text, search_type="websearch", config=CONFIG)
    raw = any_words_tsquery(text)
    if raw:
        yield SearchQuery(raw, search_type="raw", config=CONFIG)


def search_articles(text: str, *, queryset: QuerySet | None = None,
                    mode: str = "auto") -> QuerySet:
    """Published articles matching ``text``, best first, each annotated with ``rank`` and
    ``headline`` (pass it to ``snippet_html``). Empty or garbage input gives no rows.

    ``mode="auto"`` (search box): every word must match, falling back to any word.
    ``mode="any"`` (the bot's questions): any word, ranked by how many and where they match.
    """
    qs = queryset if queryset is not None else Article.objects.published()
    text = (text or "").strip()[:MAX_QUERY_CHARS]
    if not words(text):
        return qs.none()
    for query in _queries(text, mode):
        hits = (
            qs.filter(search_vector=query)
            .annotate(rank=SearchRank(F("search_vector"), query))
            .annotate(headline=SearchHeadline(
                "body", query, config=CONFIG, start_sel=_MARK_START, stop_sel=_MARK_END,
                max_words=35, min_words=15, max_fragments=2, fragment_delimiter=" … ",
            ))
            .order_by("-rank", "title")
        )
        if hits.exists():
            return hits
    return qs.none()


def with_snippets(articles):
    for article in articles:
        article.snippet = snippet_html(getattr(article, "headline", "") or article.summary)
    return articles


def paragraphs(body: str) -> list[str]:
    """The article's paragraphs, without heading-only blocks."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", body or "")]
    return [b for b in blocks if b and not re.fullmatch(r"#+ .*", b)]


def best_passage(article: Article, text: str) -> str:
    """The paragraph of ``article`` that best matches ``text`` (ranked by PostgreSQL);
    the first paragraph when none matches (the hit was in the title or tags)."""
    blocks = paragraphs(article.body)
    if not blocks:
        return article.summary
    raw = any_words_tsquery(text)
    if raw:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT t.idx, ts_rank(to_tsvector(%s::regconfig, t.p), q) AS r
                FROM unnest(%s::text[]) WITH ORDINALITY AS t(p, idx),
                     to_tsquery(%s::regconfig, %s) AS q
                WHERE to_tsvector(%s::regconfig, t.p) @@ q
                ORDER BY r DESC, t.idx
                LIMIT 1
                """,
                [CONFIG, blocks, CONFIG, raw, CONFIG],
            )
            row = cursor.fetchone()
        if row:
            return blocks[row[0] - 1]
    return blocks[0]
