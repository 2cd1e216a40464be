"""Facts a service-desk agent scans first: error codes, applications, devices, times, tickets.

Plain pattern matching over chat text that was redacted at ingress. Precision beats recall: a
wrong fact sends the agent down the wrong path, a missing one only costs a glance at the
transcript. So ordinary English words that double as product names ("word", "edge", "windows")
and bare numbers only count with a cue, and redaction placeholders are removed before anything
is matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Facts", "extract_facts"]


@dataclass(frozen=True)
class Facts:
    """What was mentioned, each kind in order of first appearance and without duplicates."""

    error_codes: tuple[str, ...] = ()
    applications: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    ticket_numbers: tuple[str, ...] = ()

    def _kinds(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return (
            ("error_codes", self.error_codes),
            ("applications", self.applications),
            ("devices", self.devices),
            ("times", self.times),
            ("ticket_numbers", self.ticket_numbers),
        )

    @property
    def empty(self) -> bool:
        return not any(values for _, values in self._kinds())

    def as_dict(self) -> dict[str, list[str]]:
        """Only the kinds that were found, so a ticket payload carries no empty lists."""
        return {name: list(values) for name, values in self._kinds() if values}


# A hit: where it starts (for ordering), what to show, and the key duplicates share.
_Hit = tuple[int, str, str]

# "[redacted password]" and friends; a line break keeps cues from reaching across them.
_PLACEHOLDER_RE = re.compile(
    r"\[(?:redacted|removed|hidden|masked)\b[^\]\n]{0,40}\]|<(?:redacted|removed)\b[^>\n]{0,40}>",
    re.IGNORECASE,
)


def _scrub(text: str) -> str:
    return _PLACEHOLDER_RE.sub("\n", text)


def _words(text: str) -> str:
    """Collapse whitespace so a fact reads the same however it was typed."""
    return " ".join(text.split())


def _unique(hits: Sequence[_Hit]) -> tuple[str, ...]:
    seen: set[str] = set()
    out: list[str] = []
    for _, value, key in hits:
        if key not in seen:
            seen.add(key)
            out.append(value)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Ticket numbers
# --------------------------------------------------------------------------------------------

_TICKET_RE = re.compile(r"(?<!\w)REQ[ \t-]?(\d{7})(?!\w)", re.IGNORECASE)


def _tickets(text: str) -> Iterator[_Hit]:
    for m in _TICKET_RE.finditer(text):
        value = f"REQ{m.group(1)}"
        yield m.start(), value, value


# --------------------------------------------------------------------------------------------
# Error codes
# --------------------------------------------------------------------------------------------

_HEX_RE = re.compile(r"(?<!\w)0x([0-9a-f]{8})(?!\w)", re.IGNORECASE)
_BSOD_CUE_RE = re.compile(r"\b(?:bsod|blue[ -]?screen|stop[ -]?code|bug[ -]?check)\b", re.I)
_AADSTS_RE = re.compile(r"(?<!\w)AADSTS\d{4,6}(?!\w)", re.IGNORECASE)
_KB_RE = re.compile(r"(?<!\w)KB[ -]?(\d{6,7})(?!\w)", re.IGNORECASE)
# "E-1042": only a few letters, or room numbers ("B-204") would count.
_LETTERED_RE = re.compile(r"(?<![\w-])(?:E|ERR|W)-\d{2,6}(?![\w-])")
# Browser and stop codes: ERR_CONNECTION_RESET, CRITICAL_PROCESS_DIED. Case-sensitive, and
# with at least three parts unless it starts with ERR_, so HTTP_PROXY and the like stay out.
_SNAKE_RE = re.compile(
    r"(?<![\w:])(?:NET::)?(ERR_[A-Z0-9_]*[A-Z0-9]|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+){2,})(?!\w)"
)
_HTTP_RE = re.compile(
    r"(?<!\w)HTTP(?:/[\d.]+)?(?:[ \t]+(?:error|status(?:[ \t]+code)?|code|response))?"
    r"[ \t]*(?:[:#][ \t]*)?([1-5]\d\d)(?![\w.:,]\d|\w)",
    re.IGNORECASE,
)
_HTTP_REASON_RE = re.compile(
    r"(?<![\w.$€£])([45]\d\d)[ \t]+(?:service[ \t]+unavailable|not[ \t]+found|forbidden|"
    r"unauthori[sz]ed|bad[ \t]+gateway|gateway[ \t]+time-?out|internal[ \t]+server[ \t]+error|"
    r"bad[ \t]+request|too[ \t]+many[ \t]+requests)\b",
    re.IGNORECASE,
)
# A bare number is a code only after a cue: "error 809", "code 691", "error: 720", "exit code 1".
_CUED_RE = re.compile(
    r"\b(?P<cue>(?:error|exit|return|status|result|reason|fault|stop)[ \t]+code|error|err|code"
    r"|status)\b(?:[ \t]+(?:number|no\.?|nr\.?|num|is|was|says|reads|#))*[ \t]*(?:[:#=][ \t]*)?"
    r"(?P<code>0x[0-9a-f]+|[a-z]{1,6}-?\d[0-9a-z]*(?:-\d+)*|\d+(?:-\d+)*)(?![\w-])",
    re.IGNORECASE,
)
# "a 404 error" (one error, not "3 errors").
_NUMBER_ERROR_RE = re.compile(r"(?<![\w.$€£])(\d{3,5})[ \t]+error(?!\w)", re.IGNORECASE)
# Words before "code" that make it something other than an error code.
_NOT_ERROR_CODE = frozenset(
    """zip post postal area country dial dialing dialling mfa otp 2fa sms verification security
    one-time auth authentication access pin promo discount qr source cost sort tax product
    confirmation activation pairing login sign-in signin approval bar barcode booking voucher
    coupon gift colour color html dress morse""".split()
)
# Words after a number that make it a count, a duration or an amount.
_COUNT_WORDS = frozenset(
    """times time x days day hours hour hrs hr minutes minute mins min seconds second secs sec
    weeks week months month years year users user people persons colleagues monitors screens
    devices laptops computers pcs machines items files emails mails messages attempts tries
    retries dollars dollar euros euro eur usd gbp pounds pound bucks percent pages sites
    accounts tickets requests""".split()
)
_AFTER_NUMBER_RE = re.compile(r"[ \t]*(?:%|[ap]\.?m\b\.?|[:.,/]\d)|[ \t]+([\w']+)", re.I)
_DATE_LIKE_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{3}-\d{4}|\d{3}-\d{3}-\d{4}")
_PREV_WORD_RE = re.compile(r"([\w'-]+)[ \t]*$")
_NEXT_WORD_RE = re.compile(r"^[ \t]+([\w'-]+)")


def _prev_word(text: str, pos: int) -> str:
    m = _PREV_WORD_RE.search(text, max(0, pos - 40), pos)
    return m.group(1).lower() if m else ""


def _next_word(text: str, pos: int) -> str:
    m = _NEXT_WORD_RE.match(text[pos : pos + 40])
    return m.group(1).lower() if m else ""


def _is_count(text: str, end: int) -> bool:
    """True when the number ending at ``end`` is an amount, a time or a count, not a code."""
    m = _AFTER_NUMBER_RE.match(text, end)
    if m is None:
        return False
    word = m.group(1)
    return word is None or word.lower() in _COUNT_WORDS


def _code_key(value: str) -> str:
    """ "HTTP 503" and "503", "BSOD 0x0000007E" and "0x0000007E" are the same code."""
    return value.lower().removeprefix("http ").removeprefix("bsod ")


def _hex_value(digits: str, text: str, start: int) -> str:
    """Upper-case hex digits; "BSOD" in front when a blue-screen cue comes just before."""
    value = f"0x{digits.upper()}"
    if _BSOD_CUE_RE.search(text, max(0, start - 25), start):
        return f"BSOD {value}"
    return value


def _normalise_code(code: str) -> str:
    if code[:2].lower() == "0x":
        return f"0x{code[2:].upper()}"
    return code.upper()


def _cued_codes(text: str) -> Iterator[_Hit]:
    for m in _CUED_RE.finditer(text):
        cue, code = m.group("cue").lower(), m.group("code")
        if cue == "code" and _prev_word(text, m.start()) in _NOT_ERROR_CODE:
            continue
        if code.isdigit() or code.replace("-", "").isdigit():
            if _DATE_LIKE_RE.fullmatch(code) or _is_count(text, m.end("code")):
                continue
        elif _TICKET_RE.fullmatch(code):
            continue
        if code[:2].lower() == "0x" and len(code) == 10:
            value = _hex_value(code[2:], text, m.start("code"))
        else:
            value = _normalise_code(code)
        yield m.start("code"), value, _code_key(value)


def _error_codes(text: str) -> Iterator[_Hit]:
    for m in _HEX_RE.finditer(text):
        value = _hex_value(m.group(1), text, m.start())
        yield m.start(), value, _code_key(value)
    for m in _AADSTS_RE.finditer(text):
        yield m.start(), m.group().upper(), m.group().lower()
    for m in _KB_RE.finditer(text):
        yield m.start(), f"KB{m.group(1)}", f"kb{m.group(1)}"
    for m in _LETTERED_RE.finditer(text):
        yield m.start(), m.group(), m.group().lower()
    for m in _SNAKE_RE.finditer(text):
        yield m.start(1), m.group(1), m.group(1).lower()
    for regex in (_HTTP_RE, _HTTP_REASON_RE):
        for m in regex.finditer(text):
            yield m.start(), f"HTTP {m.group(1)}", m.group(1)
    for m in _NUMBER_ERROR_RE.finditer(text):
        yield m.start(), m.group(1), m.group(1)
    yield from _cued_codes(text)


# --------------------------------------------------------------------------------------------
# Applications and devices
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    """A canonical name and when an alias of it may be trusted.

    ``ambiguous`` aliases are also ordinary English words: they count only when written with a
    capital letter or next to a cue word (``before`` / ``after``). ``not_before`` and
    ``not_after`` reject a match whatever its case ("edge cases", "phone number").
    """

    name: str
    ambiguous: bool = False
    before: frozenset[str] = frozenset()
    after: frozenset[str] = frozenset()
    not_before: frozenset[str] = frozenset()
    not_after: frozenset[str] = frozenset()


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_OPEN_CUES = _set("in into open opening opened using via from with")
_WORD_TERM = _Term(
    "Word",
    ambiguous=True,
    before=_OPEN_CUES,
    after=_set(
        "document documents doc docs docx file files app application template templates online "
        "desktop add-in add-ins macro macros crashes crashed crashing freezes freezing"
    ),
    not_after=_set("of for count counts"),
)
_EDGE_TERM = _Term(
    "Edge",
    ambiguous=True,
    before=_OPEN_CUES,
    after=_set(
        "browser app window windows tab tabs settings profile extension extensions crashes "
        "crashed crashing"
    ),
    not_after=_set("case cases of computing"),
)
_WINDOWS_TERM = _Term(
    "Windows",
    ambiguous=True,
    before=_set("on in using for with run running"),
    after=_set(
        "7 8 10 11 update updates hello pc laptop machine login log-in logon sign-in security "
        "defender server explorer settings key firewall account device computer store terminal "
        "version"
    ),
)
_WORKDAY_TERM = _Term(
    "Workday",
    ambiguous=True,
    before=_set("in into open opening using via on"),
    after=_set(
        "app login log-in sign-in portal account password page site inbox timesheet timesheets "
        "task tasks profile access payslip payslips"
    ),
)
_WIFI_TERM = _Term(
    "Wi-Fi",
    not_after=_set(
        "mouse keyboard headset headphones earbuds charger charging presenter mice speaker speakers"
    ),
)
_ZOOM_TERM = _Term("Zoom", not_after=_set("in out level levels into slider"))


def _terms(table: Mapping[str, tuple[str, ...]]) -> dict[str, _Term]:
    return {alias: _Term(name) for name, aliases in table.items() for alias in aliases}


_APPLICATIONS: dict[str, _Term] = {
    **_terms(
        {
            "Outlook": (
                "outlook",
                "ms outlook",
                "microsoft outlook",
                "o365 mail",
                "office 365 mail",
                "outlook web access",
                "owa",
            ),
            "Teams": ("teams", "ms teams", "microsoft teams"),
            "VPN": ("vpn", "globalprotect", "global protect", "anyconnect", "forticlient"),
            "OneDrive": ("onedrive", "one drive"),
            "SharePoint": ("sharepoint", "share point"),
            "Excel": ("excel", "ms excel", "microsoft excel"),
            "Word": ("ms word", "microsoft word"),
            "PowerPoint": ("powerpoint", "power point", "microsoft powerpoint", "ppt"),
            "OneNote": ("onenote", "one note"),
            "Microsoft 365": ("microsoft 365", "office 365", "o365", "m365", "microsoft office"),
            "Webex": ("webex",),
            "Slack": ("slack",),
            "Chrome": ("chrome", "google chrome"),
            "Edge": ("microsoft edge", "ms edge"),
            "Firefox": ("firefox",),
            "Safari": ("safari",),
            "Salesforce": ("salesforce", "sfdc"),
            "SAP": ("sap", "sap gui", "sapgui", "s/4hana", "s4hana"),
            "Jira": ("jira",),
            "Confluence": ("confluence",),
            "ServiceNow": ("servicenow",),
            "GitHub": ("github",),
            "Okta": ("okta",),
            "Citrix": ("citrix",),
            "Remote Desktop": ("remote desktop", "remote desktop connection", "rdp"),
            "Dropbox": ("dropbox",),
            "Skype": ("skype", "skype for business"),
            "Adobe Acrobat": (
                "adobe acrobat",
                "acrobat",
                "acrobat reader",
                "adobe reader",
                "adobe acrobat reader",
            ),
            "Intune Company Portal": ("intune company portal", "company portal", "intune"),
            "Authenticator": (
                "authenticator",
                "authenticator app",
                "microsoft authenticator",
                "ms authenticator",
            ),
            "BitLocker": ("bitlocker",),
            "Windows": ("win10", "win11", "win 10", "win 11"),
            "macOS": ("macos", "mac os", "osx", "os x"),
            "iOS": ("ios",),
        }
    ),
    "word": _WORD_TERM,
    "edge": _EDGE_TERM,
    "windows": _WINDOWS_TERM,
    "workday": _WORKDAY_TERM,
    "zoom": _ZOOM_TERM,
    **dict.fromkeys(("wifi", "wi-fi", "wi fi", "wireless", "wlan"), _WIFI_TERM),
}

_PHONE_NOT_AFTER = _set("number numbers no call calls extension line app apps bill")
_DEVICES: dict[str, _Term] = {
    **_terms(
        {
            "laptop": (
                "laptop",
                "laptops",
                "notebook computer",
                "thinkpad",
                "chromebook",
                "surface laptop",
                "surface pro",
                "surface book",
            ),
            "tablet": ("tablet", "tablets", "android tablet"),
            "iPad": ("ipad", "ipads", "ipad pro", "ipad air"),
            "iPhone": ("iphone", "iphones"),
            "printer": (
                "printer",
                "printers",
                "copier",
                "photocopier",
                "mfp",
                "multifunction printer",
                "plotter",
            ),
            "scanner": ("scanner", "scanners"),
            "docking station": (
                "docking station",
                "docking stations",
                "dock",
                "docks",
                "usb-c dock",
                "thunderbolt dock",
                "port replicator",
            ),
            "headset": ("headset", "headsets", "headphones", "headphone", "earbuds", "airpods"),
            "mouse": ("mouse", "mice"),
            "webcam": ("webcam", "webcams", "web cam", "web camera", "camera"),
            "YubiKey": ("yubikey", "yubikeys", "yubi key", "security key", "fido key"),
            "MacBook": ("macbook", "macbooks", "macbook pro", "macbook air", "mac book"),
            "iMac": ("imac",),
            "USB drive": ("usb drive", "usb stick", "usb key", "flash drive", "thumb drive"),
            "external drive": ("external drive", "external hard drive", "external ssd"),
            "charger": ("charger", "chargers", "power adapter", "power supply", "charging cable"),
            "microphone": ("microphone", "microphones", "mic"),
            "projector": ("projector", "projectors"),
            "smart card": ("smart card", "smartcard"),
            "desk phone": ("desk phone", "desk phones", "deskphone", "ip phone", "voip phone"),
            "router": ("router", "routers"),
        }
    ),
    **dict.fromkeys(
        ("desktop", "desktops", "desktop pc", "desktop computer", "workstation"),
        _Term(
            "desktop",
            not_before=_set("remote virtual"),
            not_after=_set(
                "app apps application version client icon icons shortcut shortcuts background "
                "wallpaper folder notification notifications sharing mode site"
            ),
        ),
    ),
    **dict.fromkeys(
        ("phone", "phones", "mobile phone", "cell phone", "cellphone", "smartphone", "work phone"),
        _Term("phone", not_after=_PHONE_NOT_AFTER),
    ),
    "mobile": _Term(
        "phone",
        not_after=_PHONE_NOT_AFTER
        | _set("data network hotspot version site browser signal coverage plan device devices"),
    ),
    **dict.fromkeys(
        ("android", "android phone", "samsung phone", "pixel phone", "google pixel"),
        _Term("Android phone", not_after=_set("app apps version studio auto tablet tablets")),
    ),
    **dict.fromkeys(
        ("monitor", "monitors", "external monitor", "external display", "second screen"),
        _Term("monitor", not_before=_set("to we they will please")),
    ),
    **dict.fromkeys(
        ("keyboard", "keyboards"), _Term("keyboard", not_after=_set("shortcut shortcuts"))
    ),
    **dict.fromkeys(("speaker", "speakers"), _Term("speaker", not_after=_set("notes view"))),
}


def _alias_regex(aliases: Sequence[str]) -> re.Pattern[str]:
    # Longest first, so "microsoft teams" wins over "teams" at the same position.
    ordered = sorted(aliases, key=lambda a: (-len(a), a))
    body = "|".join(r"[ \t]+".join(re.escape(part) for part in a.split()) for a in ordered)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


_APP_RE = _alias_regex(list(_APPLICATIONS))
_DEVICE_RE = _alias_regex(list(_DEVICES))


def _trusted(term: _Term, text: str, start: int, end: int) -> bool:
    before, after = _prev_word(text, start), _next_word(text, end)
    if before in term.not_before or after in term.not_after:
        return False
    if not term.ambiguous:
        return True
    return text[start].isupper() or before in term.before or after in term.after


def _named(text: str, regex: re.Pattern[str], table: Mapping[str, _Term]) -> Iterator[_Hit]:
    for m in regex.finditer(text):
        term = table[_words(m.group()).lower()]
        if _trusted(term, text, m.start(), m.end()):
            yield m.start(), term.name, term.name.lower()


# --------------------------------------------------------------------------------------------
# Times
# --------------------------------------------------------------------------------------------

_NUM = (
    r"(?:\d+|a[ \t]+few|a[ \t]+couple(?:[ \t]+of)?|couple(?:[ \t]+of)?|a|an|one|two|three|four"
    r"|five|six|seven|eight|nine|ten|eleven|twelve|few|several)"
)
_UNIT = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)"
_DAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_PART = r"(?:morning|afternoon|evening|night)"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_CLOCK = (
    r"(?:(?<![\d:.])(?:[01]?\d|2[0-3])(?:[:.][0-5]\d)?[ \t]?(?:am|pm|a\.m\.|p\.m\.)"
    r"|(?<![\d:.])(?:[01]?\d|2[0-3]):[0-5]\d(?![\d:])|noon|midday|midnight)"
)
_DATE = (
    rf"(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|\d{{1,2}}\.\d{{1,2}}\.\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?{_MONTH}(?:[ \t]+\d{{4}})?"
    rf"|{_MONTH}[ \t]+\d{{1,2}}(?:st|nd|rd|th)?(?:,?[ \t]+\d{{4}})?)"
)
_TIME_CORE = rf"""
    (?:earlier|later)[ \t]+today
  | today | tonight | yesterday(?:[ \t]+{_PART})?
  | (?:this|last|every|each|all|the[ \t]+whole)[ \t]+
        (?:{_PART}|weekend|week|month|year|day|{_DAY}(?:[ \t]+{_PART})?)
  | (?:over|during|at|since|on)[ \t]+the[ \t]+weekend
  | {_DAY}(?:[ \t]+{_PART})?
  | {_NUM}[ \t]+{_UNIT}[ \t]+ago
  | (?:for|over|in)[ \t]+the[ \t]+(?:past|last)[ \t]+(?:{_NUM}[ \t]+)?{_UNIT}
  | for[ \t]+(?:(?:about|around|almost|nearly|over|more[ \t]+than|at[ \t]+least)[ \t]+)?
        {_NUM}[ \t]+{_UNIT}
  | for[ \t]+(?:ages|hours|days|weeks|months|a[ \t]+while)
  | {_DATE} | {_CLOCK}
"""
# "since", "on", "until" change what a time means, so they stay; "at 14:30" is just "14:30".
_TIME_RE = re.compile(
    rf"(?<!\w)(?:(?:since|from|until|till|after|before|on)[ \t]+)?(?:{_TIME_CORE})(?!\w)",
    re.IGNORECASE | re.VERBOSE,
)


def _times(text: str) -> Iterator[_Hit]:
    for m in _TIME_RE.finditer(text):
        value = _words(m.group())
        yield m.start(), value, value.lower()


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def extract_facts(texts: Sequence[str]) -> Facts:
    """Facts from the user's messages, oldest first; placeholders like ``[redacted password]``
    are dropped before matching, so they never surface as facts."""
    if isinstance(texts, str):
        texts = (texts,)
    codes: list[_Hit] = []
    apps: list[_Hit] = []
    devices: list[_Hit] = []
    times: list[_Hit] = []
    tickets: list[_Hit] = []
    for raw in texts:
        text = _scrub(raw)
        codes += sorted(_error_codes(text))
        apps += _named(text, _APP_RE, _APPLICATIONS)
        devices += _named(text, _DEVICE_RE, _DEVICES)
        times += _times(text)
        tickets += _tickets(text)
    return Facts(
        error_codes=_unique(codes),
        applications=_unique(apps),
        devices=_unique(devices),
        times=_unique(times),
        ticket_numbers=_unique(tickets),
    )
