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
