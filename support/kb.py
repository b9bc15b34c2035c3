"""Knowledge-base reads: safe Markdown rendering and ranked full-text search.

The search vector is kept by a trigger (title weight A, tags B, body C; migration 0001), so a
title match ranks above a body match. Queries from users go through ``websearch_to_tsquery``
(never raises on any input); when that finds nothing, a forgiving OR-of-prefixes query built
from the words alone is tried, which suits questions typed to the bot or half-typed subjects.

Semantic blend (support/embeddings.py): where PostgreSQL has pgvector and the local model
loads, every article with a stored vector is ranked by

    rank = 0.6 * min(ts_rank, 1) + 0.4 * max(cosine similarity to the query, 0)

and the nearest articles by meaning (cosine >= ``MIN_SIMILARITY``) join the full-text hits, so
a question sharing no word with an article ("get my money back") still finds it. An article
without a vector yet keeps ``rank = min(ts_rank, 1)``, the same scale. Without pgvector or the
model, ranking is full text alone (no error; logged once). Both parts lie in [0, 1] and a
title match scores far above a body match in ``ts_rank`` (weights A=1.0 vs C=0.2), so title
matches still rank first unless meaning strongly disagrees.
"""

import re

import markdown as markdown_lib
import nh3
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db import connection
from django.db.models import Case, F, FloatField, Q, QuerySet, Value, When
from django.db.models.expressions import Expression, RawSQL
from django.db.models.functions import Greatest, Least
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from support import embeddings
from support.models import Article

CONFIG = "english"
# Private-use characters mark highlights in PostgreSQL's output, so the text can be escaped
# first and the markers turned into <mark> afterwards: article text never becomes markup.
_MARK_START = "\ue000"
_MARK_END = "\ue001"
_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_CHARS = 200
FTS_WEIGHT = 0.6
SEMANTIC_WEIGHT = 0.4
# Cosine similarity from which an article with no matching word is still a hit; unrelated
# questions score below 0.2 against help articles with this model, paraphrases above 0.4.
MIN_SIMILARITY = 0.35
MAX_NEIGHBOURS = 20


def render_markdown(text: str) -> SafeString:
    """Markdown to HTML, then sanitised by nh3 (no scripts, handlers or javascript: links)."""
    html = markdown_lib.markdown(
        text or "", extensions=["extra", "sane_lists"], output_format="html"
    )
    return mark_safe(nh3.clean(html, link_rel="noopener noreferrer nofollow"))  # noqa: S308


# Markdown's marks, taken out of a search snippet (a fragment of the article's source, so
# never rendered: a fragment may cut a link or an emphasis in half).
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)?")
_MD_CUT_LINK = re.compile(r"^([^\[(]*?)\]\([^)\s]*\)?|\[(?=[^\]]*$)")
_MD_LINE_START = re.compile(r"(?m)^[ \t]{0,3}(?:#{1,6}[ \t]+|>[ \t]?|[-*+][ \t]+|\d+[.)][ \t]+)")
_MD_MARKS = re.compile(r"\*\*|__|~~|`+|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")


def strip_markdown(text: str) -> str:
    """The words of a Markdown fragment without its marks: links keep their text, headings,
    quotes and list bullets lose their marker, emphasis and code lose their asterisks and
    backticks."""
    text = _MD_LINK.sub(r"\1", text or "")
    text = _MD_CUT_LINK.sub(lambda m: m.group(1) or "", text)
    text = _MD_LINE_START.sub("", text)
    return re.sub(r"\s+", " ", _MD_MARKS.sub("", text)).strip()


def snippet_html(headline: str | None) -> SafeString:
    text = escape(strip_markdown(headline or ""))
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


def _query_vector(text: str) -> list[float] | None:
    """The query's semantic vector, or None when this database or process has no embeddings."""
    if not embeddings.available():
        return None
    return embeddings.embed(text)


def search_articles(text: str, *, queryset: QuerySet | None = None, mode: str = "auto") -> QuerySet:
    """Published articles matching ``text``, best first, each annotated with ``rank`` (the
    blend described above), ``semantic`` (cosine similarity, None without a vector) and
    ``headline`` (pass it to ``snippet_html``). Empty or garbage input gives no rows.

    ``mode="auto"`` (search box): every word must match, falling back to any word.
    ``mode="any"`` (the bot's questions): any word, ranked by how many and where they match.
    Articles close in meaning are hits in both modes when embeddings are available.
    """
    qs = queryset if queryset is not None else Article.objects.published()
    text = (text or "").strip()[:MAX_QUERY_CHARS]
    if not words(text):
        return qs.none()
    fts_query = next((q for q in _queries(text, mode) if qs.filter(search_vector=q).exists()), None)
    vector = _query_vector(text)
    near = (
        embeddings.neighbours(vector, limit=MAX_NEIGHBOURS, min_similarity=MIN_SIMILARITY)
        if vector is not None
        else {}
    )
    if fts_query is None and not near:
        return qs.none()
    condition = Q(pk__in=list(near))
    if fts_query is not None:
        condition |= Q(search_vector=fts_query)
    query = fts_query or SearchQuery(text, search_type="websearch", config=CONFIG)
    fts = (
        Least(SearchRank(F("search_vector"), query), Value(1.0))
        if fts_query is not None
        else Value(0.0, output_field=FloatField())
    )
    return _ranked(qs.filter(condition), query, fts=fts, semantic=_semantic(vector))


def _semantic(vector) -> Expression:
    """Cosine similarity of each article's embedding to ``vector`` (None without one)."""
    if vector is None:
        return Value(None, output_field=FloatField())
    # Table and column names are constants; the vector and model name are parameters.
    return RawSQL(  # noqa: S611
        f"SELECT 1 - (e.embedding <=> %s::vector) FROM {embeddings.TABLE} e "  # noqa: S608
        f"WHERE e.article_id = {Article._meta.db_table}.id AND e.model = %s",
        [embeddings.to_sql(vector), embeddings.MODEL_NAME],
        output_field=FloatField(),
    )


def _ranked(qs: QuerySet, query: SearchQuery, *, fts: Expression, semantic: Expression) -> QuerySet:
    """``qs`` annotated with ``rank`` (the blend of ``fts`` and ``semantic``) and ``headline``,
    best first."""
    return (
        qs.annotate(fts_rank=fts, semantic=semantic)
        .annotate(
            rank=Case(
                When(semantic__isnull=True, then=F("fts_rank")),
                default=(
                    FTS_WEIGHT * F("fts_rank")
                    + SEMANTIC_WEIGHT * Greatest(F("semantic"), Value(0.0))
                ),
                output_field=FloatField(),
            )
        )
        .annotate(
            headline=SearchHeadline(
                "body",
                query,
                config=CONFIG,
                start_sel=_MARK_START,
                stop_sel=_MARK_END,
                max_words=35,
                min_words=15,
                max_fragments=2,
                fragment_delimiter=" … ",
            )
        )
        .order_by("-rank", "title")
    )


def with_snippets(articles):
    for article in articles:
        article.snippet = snippet_html(getattr(article, "headline", "") or article.summary)
    return articles


def paragraphs(body: str) -> list[str]:
    """The article's paragraphs, without heading-only blocks."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", body or "")]
    return [b for b in blocks if b and not re.fullmatch(r"#+ .*", b)]


def best_passage(article: Article, text: str) -> str:
    """The paragraph of ``article`` that best matches ``text`` (ranked by PostgreSQL); when
    none shares a word, the one closest in meaning (embeddings) or else the first."""
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
    # No paragraph shares a word (the article was found by meaning, or by its title or tags):
    # with embeddings, the paragraph closest in meaning; otherwise the first.
    vector = _query_vector(text) if len(blocks) > 1 else None
    if vector is not None:
        model = embeddings.encoder()
        assert model is not None  # the query's vector came from it
        scores = [
            sum(a * b for a, b in zip(vector, block, strict=True)) for block in model.encode(blocks)
        ]
        return blocks[scores.index(max(scores))]
    return blocks[0]
