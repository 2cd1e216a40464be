"""Tests for handoff.facts: what an agent sees first must be right, so false facts matter more
than missed ones."""

from __future__ import annotations

import dataclasses
import time

import pytest

from handoff.facts import Facts, extract_facts

# (message, expected Facts.as_dict()); an empty dict means no facts at all.
CASES: list[tuple[str, dict[str, list[str]]]] = [
    # error codes
    (
        "Outlook shows 0x80070005 when I open it",
        {"error_codes": ["0x80070005"], "applications": ["Outlook"]},
    ),
    ("install fails with 0x800f081f", {"error_codes": ["0x800F081F"]}),
    ("vpn says error 809", {"error_codes": ["809"], "applications": ["VPN"]}),
    ("it fails with error 691", {"error_codes": ["691"]}),
    ("code 691 again", {"error_codes": ["691"]}),
    ("Error: 720 when dialling in", {"error_codes": ["720"]}),
    ("the portal returns status 503", {"error_codes": ["503"]}),
    ("the script ends with exit code 1", {"error_codes": ["1"]}),
    ("the error code is 30088-26", {"error_codes": ["30088-26"]}),
    ("sign-in blocked: AADSTS50076", {"error_codes": ["AADSTS50076"]}),
    ("HTTP 503 on the intranet", {"error_codes": ["HTTP 503"]}),
    ("503 Service Unavailable on every page", {"error_codes": ["HTTP 503"]}),
    ("I get a 404 error on the wiki", {"error_codes": ["404"]}),
    ("the app shows E-1042", {"error_codes": ["E-1042"]}),
    ("BSOD 0x0000007E after lunch", {"error_codes": ["BSOD 0x0000007E"]}),
    ("blue screen, stop code CRITICAL_PROCESS_DIED", {"error_codes": ["CRITICAL_PROCESS_DIED"]}),
    (
        "Chrome: ERR_CONNECTION_RESET",
        {"error_codes": ["ERR_CONNECTION_RESET"], "applications": ["Chrome"]},
    ),
    ("update KB5034441 will not install", {"error_codes": ["KB5034441"]}),
    ("Teams error code caa50021", {"error_codes": ["CAA50021"], "applications": ["Teams"]}),
    # numbers that are not error codes
    ("call me on +1 555 0100", {}),
    ("I have 3 monitors", {"devices": ["monitor"]}),
    ("error 5 times in a row", {}),
    ("status: 2 users affected", {}),
    ("the error started at 14:30", {"times": ["14:30"]}),
    ("my zip code 12345 is wrong in Workday", {"applications": ["Workday"]}),
    ("the verification code 123456 was rejected", {}),
    ("it cost $500 and still fails", {}),
    ("version 2.3.1 error", {}),
    ("meet me in room B-204", {}),
    ("HTTP_PROXY is set on my machine", {}),
    ("please check REQ0001234", {"ticket_numbers": ["REQ0001234"]}),
    ("status of req 0007654?", {"ticket_numbers": ["REQ0007654"]}),
    # redaction placeholders are never facts
    ("my password is [redacted password]", {}),
    ("token [redacted api_key] error [redacted password] 809", {}),
    ("[redacted card_number]", {}),
    # applications: aliases and word boundaries
    ("ms teams keeps crashing", {"applications": ["Teams"]}),
    ("our teams are swamped", {"applications": ["Teams"]}),
    ("steam and teamwork", {}),
    ("my password expired", {}),
    ("the knowledge base is wrong", {}),
    ("a word of advice", {}),
    ("in a word, broken", {}),
    ("open it in word", {"applications": ["Word"]}),
    ("the word document is locked", {"applications": ["Word"]}),
    ("Word keeps freezing", {"applications": ["Word"]}),
    ("Microsoft Word and microsoft edge", {"applications": ["Word", "Edge"]}),
    ("Edge will not load pages", {"applications": ["Edge"]}),
    ("the edge browser is slow", {"applications": ["Edge"]}),
    ("edge cases in the script", {}),
    ("I'm on edge today", {"times": ["today"]}),
    ("o365 mail and onedrive", {"applications": ["Outlook", "OneDrive"]}),
    ("sharepoint, excel, powerpoint", {"applications": ["SharePoint", "Excel", "PowerPoint"]}),
    ("wifi and wi-fi and wireless", {"applications": ["Wi-Fi"]}),
    ("a wireless mouse", {"devices": ["mouse"]}),
    ("zoom in on the chart", {}),
    ("Zoom keeps dropping me", {"applications": ["Zoom"]}),
    ("windows update fails", {"applications": ["Windows"]}),
    ("the windows are dirty", {}),
    ("my workday starts at 9am", {"times": ["9am"]}),
    ("workday login fails", {"applications": ["Workday"]}),
    ("asap please", {}),
    (
        "Salesforce, SAP, Jira and Confluence",
        {"applications": ["Salesforce", "SAP", "Jira", "Confluence"]},
    ),
    ("Slack and adobe reader", {"applications": ["Slack", "Adobe Acrobat"]}),
    ("company portal on macOS", {"applications": ["Intune Company Portal", "macOS"]}),
    (
        "new phone, Authenticator is empty",
        {"applications": ["Authenticator"], "devices": ["phone"]},
    ),
    ("remote desktop to my desktop", {"applications": ["Remote Desktop"], "devices": ["desktop"]}),
    # devices
    ("my laptop and the docking station", {"devices": ["laptop", "docking station"]}),
    (
        "printer, headset, keyboard and webcam",
        {"devices": ["printer", "headset", "keyboard", "webcam"]},
    ),
    ("lost my YubiKey", {"devices": ["YubiKey"]}),
    ("MacBook Pro and an iPhone", {"devices": ["MacBook", "iPhone"]}),
    ("my android phone and a tablet", {"devices": ["Android phone", "tablet"]}),
    ("my phone number changed", {}),
    ("the keyboard shortcut does nothing", {}),
    # times, as written
    ("since 9am", {"times": ["since 9am"]}),
    ("since this morning", {"times": ["since this morning"]}),
    ("it broke yesterday", {"times": ["yesterday"]}),
    ("started last week", {"times": ["last week"]}),
    ("on Monday", {"times": ["on Monday"]}),
    ("since 2026-11-20", {"times": ["since 2026-11-20"]}),
    ("for two days now", {"times": ["for two days"]}),
    ("for the past 3 days", {"times": ["for the past 3 days"]}),
    ("about an hour ago", {"times": ["an hour ago"]}),
    ("over the weekend", {"times": ["over the weekend"]}),
    ("on 20 Nov at 14:30", {"times": ["on 20 Nov", "14:30"]}),
    # everything at once, in order of appearance
    (
        "vpn keeps dropping with error 809 at the hotel since this morning on my laptop",
        {
            "error_codes": ["809"],
            "applications": ["VPN"],
            "devices": ["laptop"],
            "times": ["since this morning"],
        },
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:50] for c in CASES])
def test_extraction(text: str, expected: dict[str, list[str]]) -> None:
    assert extract_facts([text]).as_dict() == expected


def test_the_cases_cover_every_kind_of_fact_and_messages_without_any() -> None:
    """A kind of fact added to `Facts` without a case here fails."""
    covered = {kind for _, expected in CASES for kind in expected}
    assert covered == {f.name for f in dataclasses.fields(Facts)}
    assert any(expected == {} for _, expected in CASES)


@pytest.mark.parametrize(
    "text",
    [
        "my password is [redacted password]",
        "the key is [redacted api_key] and it fails",
        "card [redacted card_number] rejected",
        "login [redacted url_credentials]",
        "[redacted password] [redacted jwt] [redacted private_key]",
    ],
)
def test_placeholders_are_never_facts(text: str) -> None:
    facts = extract_facts([text])
    assert facts.empty
    assert "redacted" not in repr(facts.as_dict()).lower()


def test_order_of_first_appearance_across_messages() -> None:
    facts = extract_facts(
        [
            "Teams crashes with 0x80070005 since Monday",
            "now outlook too, error 809, and TEAMS again",
            "also 0X80070005 on my laptop, since monday",
        ]
    )
    assert facts.error_codes == ("0x80070005", "809")
    assert facts.applications == ("Teams", "Outlook")
    assert facts.devices == ("laptop",)
    assert facts.times == ("since Monday",)


def test_duplicates_are_case_insensitive_and_forms_of_one_code_merge() -> None:
    facts = extract_facts(["HTTP 503 here", "status 503 there", "BSOD 0x0000007E", "0x0000007e"])
    assert facts.error_codes == ("HTTP 503", "BSOD 0x0000007E")


def test_ticket_numbers_are_upper_cased_and_not_error_codes() -> None:
    facts = extract_facts(["status REQ0001234", "req-0001234 and REQ 0009999"])
    assert facts.ticket_numbers == ("REQ0001234", "REQ0009999")
    assert facts.error_codes == ()


def test_a_single_string_is_one_message() -> None:
    assert extract_facts("error 809 on vpn") == extract_facts(["error 809 on vpn"])


def test_empty_input() -> None:
    assert extract_facts([]) == Facts()
    assert extract_facts(["", "   "]).empty


def test_empty_and_as_dict() -> None:
    assert Facts().empty
    assert Facts().as_dict() == {}
    facts = Facts(error_codes=("809",), times=("today",))
    assert not facts.empty
    assert facts.as_dict() == {"error_codes": ["809"], "times": ["today"]}


def test_as_dict_keys_are_the_field_names() -> None:
    full = Facts(("1",), ("VPN",), ("laptop",), ("today",), ("REQ0000001",))
    assert list(full.as_dict()) == [
        "error_codes",
        "applications",
        "devices",
        "times",
        "ticket_numbers",
    ]


def test_extraction_is_deterministic() -> None:
    texts = ["Outlook 0x80070005 since 9am on my MacBook", "error 809 in ms teams yesterday"]
    assert extract_facts(texts) == extract_facts(list(texts)) == extract_facts(tuple(texts))


@pytest.mark.parametrize("cue", ["error", "HTTP", "status code", "for", "since"])
def test_long_runs_of_blanks_do_not_blow_up(cue: str) -> None:
    text = cue + " \t" * 10_000 + "x"
    start = time.perf_counter()
    assert extract_facts([text]).error_codes == ()
    assert time.perf_counter() - start < 2.0
