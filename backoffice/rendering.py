"""The console's list rendering, made cheaper for long lists: unfold's column headers built
once per changelist, and the row checkbox rendered once per process."""

import functools

from django.contrib.admin import helpers
from unfold.admin import checkbox as unfold_checkbox
from unfold.templatetags import unfold_list


def _headers_once_per_list(original):
    """unfold's ``items_for_result`` rebuilds every column header for every row (a list of 50
    rows and 9 columns builds 450 headers, about a third of its rendering). The headers of one
    changelist are the same for all its rows: build them once per changelist."""

    @functools.wraps(original)
    def headers(cl):
        cached = cl.__dict__.get("_console_headers")
        if cached is None:
            cached = cl.__dict__["_console_headers"] = list(original(cl))
        yield from cached

    return headers


unfold_list.result_headers = _headers_once_per_list(unfold_list.result_headers)

PK_MARK = "__row_pk__"


@functools.cache
def row_checkbox() -> str:
    return str(unfold_checkbox.render(helpers.ACTION_CHECKBOX_NAME, PK_MARK))
