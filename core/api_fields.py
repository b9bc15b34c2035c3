"""DRF fields shared by the apps' input serializers."""

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string in JSON: refuses 0, 1.5, true and objects, which CharField would turn into text.

    The schema says `type: string`; silently accepting `{"name": 0}` as "0" is the schema
    lying about what is refused (found by tests/test_api_fuzz.py).
    """

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
