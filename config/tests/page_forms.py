"""The forms a page renders, read from its HTML and submitted as a browser would: the
form's own action and method, its hidden and pre-filled fields, the chosen options, with
what the test "types" on top. Standard library only (html.parser)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin


@dataclass
class PageForm:
    action: str
    method: str
    attrs: dict
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""

    def names(self) -> set[str]:
        return {name for name, _ in self.fields}

    def value(self, name: str) -> str | None:
        return next((value for key, value in self.fields if key == name), None)

    def data(self, typed: dict | None = None, button: str | None = None) -> dict[str, list[str]]:
        """The submitted data: the form's fields, each ``typed`` value replacing the field's
        (a list for a multi-valued field; None leaves it out), plus the ``button`` pressed."""
        data: dict[str, list[str]] = {}
        for name, value in self.fields:
            data.setdefault(name, []).append(value)
        for name, value in (typed or {}).items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        if button is not None:
            name, value = next((b for b in self.buttons if b[0] == button), (button, ""))
            data[name] = [value]
        return data


class _FormReader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[PageForm] = []
        self._form: PageForm | None = None
        self._select: dict | None = None
        self._textarea: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {key: ("" if value is None else value) for key, value in attrs}
        if tag == "form":
            if self._form is not None:
                # As a browser does: a form inside another is ignored (its fields and buttons
                # belong to the outer form, and the first </form> ends the outer one).
                return
            self._form = PageForm(
                action=attrs.get("action", ""),
                method=(attrs.get("method") or "get").lower(),
                attrs=attrs,
            )
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                form.buttons.append((name, attrs.get("value", "")))
            elif kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    form.fields.append((name, attrs.get("value", "on")))
            elif kind != "file":
                form.fields.append((name, attrs.get("value", "")))
        elif tag == "button" and name:
            form.buttons.append((name, attrs.get("value", "")))
        elif tag == "select" and name:
            self._select = {"name": name, "first": None, "chosen": None}
        elif tag == "option" and self._select is not None:
            value = attrs.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in attrs:
                self._select["chosen"] = value
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._form is not None:
            self._form.text += data
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None and self._form is not None:
            chosen = self._select["chosen"]
            value = chosen if chosen is not None else self._select["first"]
            if value is not None:
                self._form.fields.append((self._select["name"], value))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            name, text = self._textarea
            self._form.fields.append((name, text.removeprefix("\n")))
            self._textarea = None


def page_forms(response) -> list[PageForm]:
    reader = _FormReader()
    reader.feed(response.content.decode())
    return reader.forms


def find_form(
    response, *, action: str | None = None, has: str | None = None, form_id: str | None = None
) -> PageForm:
    """The one form on the page whose action contains ``action``, which has a field named
    ``has``, or whose id is ``form_id``."""
    found = [
        form
        for form in page_forms(response)
        if (action is None or action in form.action)
        and (has is None or has in form.names())
        and (form_id is None or form.attrs.get("id") == form_id)
    ]
    assert len(found) == 1, (
        f"{len(found)} forms match action={action!r} has={has!r} "
        f"id={form_id!r} on {response.wsgi_request.path}"
    )
    return found[0]


def submit(
    client, response, form: PageForm, typed: dict | None = None, *, button: str | None = None
):
    """Submit ``form`` of the page ``response`` to its own action (an empty action is the
    page's own address), with ``typed`` values (field name -> text) over the rendered ones."""
    url = urljoin(response.wsgi_request.get_full_path(), form.action)
    data = form.data(typed, button)
    if form.method == "post":
        return client.post(url, data)
    return client.get(url, data)
