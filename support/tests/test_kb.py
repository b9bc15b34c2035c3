import pytest

from support import kb
from support.factories import ArticleFactory
from support.models import ArticleStatus

pytestmark = pytest.mark.django_db

URL = "/api/v1/kb/articles/"


@pytest.fixture
def articles():
    return {
        "title": ArticleFactory(
            title="Refunds for annual plans",
            slug="annual-refunds",
            body="How we handle money back on yearly billing.",
        ),
        "body": ArticleFactory(
            title="Changing your plan",
            slug="plan-change",
            body="Upgrades apply at once.\n\nA downgrade may lead to a "
            "partial refunds credit on your next invoice.",
        ),
        "draft": ArticleFactory(
            title="Refunds draft",
            slug="draft-refunds",
            status=ArticleStatus.DRAFT,
            body="refunds refunds",
        ),
    }


def test_title_match_ranks_above_body_match(articles):
    hits = list(kb.search_articles("refunds"))
    assert [a.slug for a in hits] == ["annual-refunds", "plan-change"]
    assert hits[0].rank > hits[1].rank


def test_api_search_is_ranked_published_only_with_highlighted_snippets(api_client, articles):
    response = api_client.get(URL, {"q": "refunds"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["slug"] for r in results] == ["annual-refunds", "plan-change"]
    assert "<mark>refunds</mark>" in results[1]["snippet"]
    assert results[0]["rank"] > results[1]["rank"]


def test_tags_rank_between_title_and_body(articles):
    ArticleFactory(title="Money back", slug="money-back", tags=["refunds"], body="See policy.")
    assert [a.slug for a in kb.search_articles("refunds")] == [
        "annual-refunds",
        "money-back",
        "plan-change",
    ]


@pytest.mark.parametrize(
    "q",
    [
        '"',
        "!!!",
        "-",
        "()",
        "a & | ! b",
        "'; DROP TABLE x; --",
        "<script>",
        "the",
        "x" * 5000,
        "\x00",
        "ñandú:*",
    ],
)
def test_garbage_queries_never_fail(api_client, client, articles, q):
    response = api_client.get(URL, {"q": q})
    assert response.status_code == 200
    assert isinstance(response.json()["results"], list)
    assert client.get("/help/search/", {"q": q}).status_code == 200


def test_snippets_escape_article_text(api_client):
    ArticleFactory(
        title="Scripts",
        slug="scripts",
        body="Never paste <script>alert(1)</script> into Tom & Jerry's refunds.",
    )
    snippet = api_client.get(URL, {"q": "refunds"}).json()["results"][0]["snippet"]
    assert "<script" not in snippet
    assert "Tom &amp; Jerry&#x27;s <mark>refunds</mark>" in snippet


def test_article_detail_api_published_only(api_client, articles):
    response = api_client.get(f"{URL}annual-refunds/")
    assert response.status_code == 200
    assert response.json()["title"] == "Refunds for annual plans"
    assert api_client.get(f"{URL}draft-refunds/").status_code == 404
    assert api_client.get(f"{URL}nope/").status_code == 404


def test_markdown_is_rendered_and_sanitised(client):
    ArticleFactory(
        slug="md",
        title="Markdown",
        body=(
            "# Heading\n\nSome **bold** text and [a link](https://example.com).\n\n"
            "<script>alert('x')</script>\n\n[bad](javascript:alert(1))\n\n"
            '<img src="x" onerror="alert(1)">'
        ),
    )
    html = client.get("/help/md/").content.decode()
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.com"' in html
    assert "<script>alert" not in html
    assert "javascript:" not in html
    assert "onerror" not in html


def test_help_pages(client, articles):
    index = client.get("/help/").content.decode()
    assert "Refunds for annual plans" in index
    assert "Refunds draft" not in index
    search = client.get("/help/search/", {"q": "refunds"}).content.decode()
    assert search.index("Refunds for annual plans") < search.index("Changing your plan")
    assert "<mark>" in search
    assert client.get("/help/draft-refunds/").status_code == 404
    empty = client.get("/help/search/", {"q": "zebra"}).content.decode()
    assert "No articles match" in empty


def test_help_index_empty_state(client):
    assert "No help articles are published yet" in client.get("/help/").content.decode()


def test_prefix_fallback_finds_half_typed_words(articles):
    # Typing a subject: "refu" is not a word, the fallback matches it as a prefix.
    assert [a.slug for a in kb.search_articles("refu")][0] == "annual-refunds"
