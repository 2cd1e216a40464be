"""Check digits and number layouts that tell a real identifier from a look-alike number."""

from __future__ import annotations


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def plausible_card(digits: str) -> bool:
    """Issuer prefix and length of the major card networks (cuts IMEI/ICCID false positives)."""
    n = len(digits)
    if digits[0] == "4":  # Visa
        return n in (13, 16, 19)
    two = int(digits[:2])
    four = int(digits[:4])
    if two in (34, 37):  # American Express
        return n == 15
    if 51 <= two <= 55 or 2221 <= four <= 2720:  # Mastercard
        return n == 16
    if two in (30, 36, 38, 39):  # Diners Club
        return 14 <= n <= 19
    if two == 35:  # JCB
        return 16 <= n <= 19
    if digits[0] == "6" or two in (50, 56, 57, 58):  # Discover, UnionPay, Maestro, RuPay
        return 13 <= n <= 19
    return False


# IBAN length per country (ISO 13616 registry).
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def iban_length(country: str) -> int | None:
    return _IBAN_LENGTHS.get(country.upper())


def iban_ok(iban: str) -> bool:
    """ISO 13616: the country's length and the mod-97 check (``iban`` without spaces)."""
    iban = iban.upper()
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def bsn_ok(digits: str) -> bool:
    """The Dutch BSN eleven-test (8-digit numbers have a leading zero dropped)."""
    digits = digits.zfill(9)
    if len(digits) != 9 or digits == "000000000":
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0


def ssn_ok(digits: str) -> bool:
    """Ranges the US SSA issues: area 001-899 except 666, group 01-99, serial 0001-9999."""
    if len(digits) != 9:
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return 0 < area < 900 and area != 666 and group > 0 and serial > 0


# First letters D F I Q U V and second letters D F I O Q U V are never used, nor these prefixes.
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def nino_ok(nino: str) -> bool:
    """A UK National Insurance number ``AB123456C`` (suffix optional), without spaces."""
    nino = nino.upper()
    if len(nino) not in (8, 9) or not nino[2:8].isdigit():
        return False
    if len(nino) == 9 and nino[8] not in "ABCD":
        return False
    first, second = nino[0], nino[1]
    return (
        first.isalpha()
        and second.isalpha()
        and first not in "DFIQUV"
        and second not in "DFIOQUV"
        and nino[:2] not in _NINO_BAD_PREFIXES
    )


def _mrz_digit(field: str) -> str:
    values = (0 if ch == "<" else int(ch, 36) for ch in field)
    return str(sum(v * w for v, w in zip(values, (7, 3, 1) * 15, strict=False)) % 10)


def mrz_passport_line_ok(line: str) -> bool:
    """The second line of a passport's machine-readable zone (ICAO 9303 TD3), check digits."""
    if len(line) != 44:
        return False
    number, birth, expiry, personal = line[0:9], line[13:19], line[21:27], line[28:42]

    def ok(field: str, digit: str) -> bool:
        return _mrz_digit(field) == digit or (digit == "<" and field.strip("<") == "")

    composite = line[0:10] + line[13:20] + line[21:43]
    return (
        ok(number, line[9])
        and ok(birth, line[19])
        and ok(expiry, line[27])
        and ok(personal, line[42])
        and _mrz_digit(composite) == line[43]
    )


def bitlocker_ok(blocks: list[str]) -> bool:
    """A BitLocker recovery password: 8 blocks of 6 digits, each a multiple of 11 below 720896."""
    return len(blocks) == 8 and all(
        len(b) == 6 and int(b) % 11 == 0 and int(b) < 720896 for b in blocks
    )
