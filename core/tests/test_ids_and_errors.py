import pytest

from core.ids import BIGINT_MAX, parse_id


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("42", 42),
        (42, 42),
        (" 7 ", 7),
        (str(BIGINT_MAX), BIGINT_MAX),
        ("\u00b2", None),
        ("\u0663", None),
        ("0", None),
        ("-3", None),
        ("1e3", None),
        ("", None),
        (None, None),
        (str(BIGINT_MAX + 1), None),
        ("12abc", None),
    ],
)
def test_parse_id_accepts_only_ascii_positive_bigints(raw, expected):
    assert parse_id(raw) == expected


@pytest.mark.django_db
def test_an_unknown_api_url_answers_json_in_the_shared_shape(client):
    response = client.get("/api/v1/me/sessions/abc/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found.", "fields": {}}


@pytest.mark.django_db
def test_an_unknown_page_still_answers_html(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
