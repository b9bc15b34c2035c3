"""The consume endpoint checks a plain, valid body itself and leaves everything else to its
serializer; both must give the same answer for any body."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers as drf

from credits.api import MAX_DETAILS_BYTES, ConsumeInput, ConsumeOutput, plain_consume_input
from credits.models import CreditTransaction, TransactionKind

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=20_000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=80),
    st.sampled_from(["AI_TEXT_CHAT", " AI_TEXT_CHAT", "AI\x00", "x" * 64, "x" * 65, "\u00a0op"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "operation": scalars,
            "quantity": scalars,
            "details": json_values,
            "other": scalars,
        },
    ),
    json_values,
)


@settings(max_examples=600, deadline=None)
@given(bodies)
def test_the_plain_check_agrees_with_the_serializer(body):
    serializer = ConsumeInput(data=body)
    valid = serializer.is_valid()
    plain = plain_consume_input(body)
    if plain is not None:
        assert valid, serializer.errors
        assert plain == dict(serializer.validated_data)


def test_the_plain_check_takes_the_common_bodies():
    assert plain_consume_input({"operation": "AI_TEXT_CHAT"}) == {
        "operation": "AI_TEXT_CHAT",
        "quantity": 1,
        "details": {},
    }
    details = {"prompt_tokens": 12, "model": "small"}
    assert plain_consume_input(
        {"operation": "AI_TEXT_CHAT", "quantity": 3, "details": details}
    ) == {"operation": "AI_TEXT_CHAT", "quantity": 3, "details": details}


def test_bodies_at_the_limits_go_to_the_serializer_or_agree_with_it():
    big = {"text": "x" * (MAX_DETAILS_BYTES - 12)}
    assert len(json.dumps(big)) == MAX_DETAILS_BYTES
    over = {"text": "x" * (MAX_DETAILS_BYTES - 11)}
    for body in (
        {"operation": "OP", "details": big},
        {"operation": "OP", "details": over},
        {"operation": "OP", "quantity": 10_000},
        {"operation": "OP", "quantity": 10_001},
        {"operation": "OP", "quantity": True},
        {"operation": " OP "},
        {"operation": "x" * 65},
    ):
        serializer = ConsumeInput(data=body)
        plain = plain_consume_input(body)
        assert (plain is not None) == (body["operation"] == "OP" and serializer.is_valid()), body
        if plain is not None:
            assert plain == dict(serializer.validated_data)


def test_the_output_is_what_its_declared_fields_give():
    row = CreditTransaction(
        pk=7, kind=TransactionKind.CONSUME, operation="OP", amount=-5, balance_after=95
    )
    walked = drf.Serializer.to_representation(ConsumeOutput(), row)
    assert ConsumeOutput(row).data == dict(walked)
    assert walked["credits_charged"] == 5
