"""Every link in the seeded help articles leads to a page that exists, and their Markdown
never reaches a customer as raw marks: not in the article, a search snippet, a ticket
suggestion or a help-bot answer."""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from support import kb
from support.models import Article
from support.seed_data import ARTICLES

pytestmark = pytest.mark.django_db


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href", ""))


def _links(html: str) -> list[str]:
    reader = _Links()
    reader.feed(html)
    return reader.hrefs


def test_seeded_articles_link_only_to_pages_that_exist(customer_client):
    seen = set()
    for spec in ARTICLES:
        hrefs = _links(str(kb.render_markdown(spec["body"])))
        assert "→" not in spec["body"] + spec["summary"], (
            f"{spec['slug']} names a menu path instead of linking the page"
        )
        for href in hrefs:
            parts = urlsplit(href)
            assert not parts.scheme and not parts.netloc, f"{spec['slug']}: {href} is external"
            seen.add(parts.path)
    assert len(seen) >= 8  # the articles do point customers at pages
    for path in sorted(seen):
        response = customer_client.get(path, follow=True)
        assert response.status_code == 200, f"{path} answers {response.status_code}"


def test_the_help_pages_show_no_markdown_marks(client, customer_client):
    call_command("seed_support", "--articles-only", verbosity=0)
    article = Article.objects.get(slug="cancel-subscription")
    page = client.get(article.get_absolute_url()).content.decode()
    assert "<strong>Cancel at" in page and "**" not in page
    assert 'href="/billing/subscription/"' in page

    search = client.get("/help/search/", {"q": "cancel subscription"}).content.decode()
    assert "cancel" in search.lower() and "**" not in search and "](/" not in search

    suggestions = client.get("/api/v1/kb/articles/", {"q": "cancel subscription"}).json()
    assert suggestions["results"]
    for hit in suggestions["results"]:
        assert "**" not in hit["snippet"] and "](/" not in hit["snippet"]

    answer = customer_client.post(
        "/api/v1/chat/",
        {"message": "How do I cancel my subscription?"},
        content_type="application/json",
    ).json()["answer"]
    assert answer["citations"]
    for citation in answer["citations"]:
        assert citation["passage_html"] and "**" not in citation["passage_html"]
    assert "**" not in answer["body_html"] and "<strong>" in answer["body_html"]


def test_snippets_lose_markdown_marks_but_keep_the_highlight():
    html = str(kb.snippet_html("Go to \ue000**cancel**\ue001 [your page](/billing/) and `x`"))
    assert html == "Go to <mark>cancel</mark> your page and x"
    assert kb.strip_markdown("## Title\n- one *two*\n> quote") == "Title one two quote"
    assert not re.search(r"[*`#]", kb.strip_markdown("ing](/account/) **bold"))
