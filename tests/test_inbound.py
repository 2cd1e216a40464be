"""The shared request checks on their own: JSON depth (brackets inside strings do not count),
numbers, dates, and the client address behind trusted proxies."""

from __future__ import annotations

from datetime import date

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.inbound import (
    MAX_INT,
    MAX_JSON_DEPTH,
    Invalid,
    client_address,
    day,
    networks,
    number_in,
    parse_json,
    same_origin,
    whole_number,
)


def test_json_depth_counts_structure_not_strings() -> None:
    assert parse_json(b'{"text": "' + b"[{" * 500 + b'"}') == {"text": "[{" * 500}
    assert parse_json(b'{"q": "\\"[[[["}') == {"q": '"[[[['}
    ok = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert parse_json(ok) is not None
    with pytest.raises(Invalid, match=f"deeper than {MAX_JSON_DEPTH}"):
        parse_json(b"[" + ok + b"]")
    with pytest.raises(Invalid, match="not UTF-8"):
        parse_json(b'"\xff"')
    with pytest.raises(Invalid, match="invalid JSON"):
        parse_json(b'{"a": ' + b"1" * 5000 + b"}")  # beyond Python's integer digits


def test_numbers_and_days() -> None:
    assert whole_number(MAX_INT, "after") == MAX_INT
    for bad in (MAX_INT + 1, -1, True, 1.0, "5", None):
        with pytest.raises(Invalid, match=f"'after' must be a whole number from 0 to {MAX_INT}"):
            whole_number(bad, "after")
    assert number_in(" 42 ", "before", 1) == 42
    for text in ("9" * 30, "0", "-1", "٣", "1e3", "", "9" * 5000):
        with pytest.raises(Invalid):
            number_in(text, "before", 1)
    assert day("2026-12-02", "from") == date(2026, 12, 2)
    assert day(None, "from") is None
    for text in ("9999-12-31", "0001-01-01", "2026-13-01", "2026-12-02T00:00", "20261202"):
        with pytest.raises(Invalid, match="'from' must be a date"):
            day(text, "from")


def request(peer: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    class Transport:
        def get_extra_info(self, name: str, default: object = None) -> object:
            return (peer, 1234) if name == "peername" else default

    return make_mocked_request("POST", "/", headers=headers or {}, transport=Transport())


def test_the_client_address_behind_trusted_proxies() -> None:
    proxies = networks("10.0.0.0/8, 192.0.2.7 fd00::/8")
    forwarded = {"X-Forwarded-For": "203.0.113.50, 198.51.100.4, 10.1.1.1"}
    assert client_address(request("192.0.2.7", forwarded), proxies) == "198.51.100.4"
    assert client_address(request("192.0.2.7", forwarded), ()) == "192.0.2.7"
    assert client_address(request("198.51.100.9", forwarded), proxies) == "198.51.100.9"
    ipv6 = {"X-Forwarded-For": "2001:db8::1"}
    assert client_address(request("fd00::5", ipv6), proxies) == "2001:db8::1"
    garbage = {"X-Forwarded-For": "not-an-address"}
    assert client_address(request("10.0.0.3", garbage), proxies) == "10.0.0.3"
    only_proxies = {"X-Forwarded-For": "10.2.2.2"}
    assert client_address(request("10.0.0.3", only_proxies), proxies) == "10.0.0.3"
    with pytest.raises(ValueError, match=r"'example\.com'"):
        networks("10.0.0.0/8, example.com")


def test_same_origin() -> None:
    def check(headers: dict[str, str], public: str = "") -> bool:
        return same_origin(
            make_mocked_request("POST", "/", headers={"Host": "chat.local", **headers}), public
        )

    assert check({"Origin": "http://chat.local"})
    assert check({"Origin": "https://deskbot.example.com"}, "https://deskbot.example.com/")
    assert not check({"Origin": "https://evil.example"})
    assert not check({"Origin": "null"})
    assert not check({"Sec-Fetch-Site": "cross-site"})
    assert check({"Sec-Fetch-Site": "same-origin"})
    assert check({})  # not a browser
