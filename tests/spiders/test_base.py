"""What every spider shares, without a crawl: reading Retry-After."""

from datetime import UTC, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spiders.base import LATEST, now, parse_retry_after


@given(st.binary(max_size=64))
def test_retry_after_never_raises(value):
    when = parse_retry_after(value)
    assert when is None or when.tzinfo is not None


@pytest.mark.parametrize(
    "value, expected",
    [
        (b"120", timedelta(seconds=120)),
        (b" 0 ", timedelta(0)),
        (b"00000000000000000030", timedelta(seconds=30)),
    ],
)
def test_retry_after_in_seconds(value, expected):
    before = now()
    assert before + expected <= parse_retry_after(value) <= now() + expected


@pytest.mark.parametrize("value", [b"9" * 20, b"1" + b"0" * 5000])
def test_a_wait_too_long_to_represent_is_the_latest_time(value):
    assert parse_retry_after(value) == LATEST


def test_retry_after_as_a_date():
    assert parse_retry_after(b"Fri, 31 Dec 9999 23:59:59 GMT").year == 9999
    assert parse_retry_after(b"Wed, 21 Oct 2026 07:28:00 GMT").tzinfo == UTC


@pytest.mark.parametrize("value", [None, b"", b"soon", b"-5", b"1.5", "\u00b2".encode("latin-1"), b"Mon, 99 Foo 2026"])
def test_an_unreadable_retry_after_is_none(value):
    assert parse_retry_after(value) is None
