"""Jinja2 templates shipped with the package (no CDN: every asset is local)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_env = Environment(
    loader=PackageLoader("bot.channels.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, **context: Any) -> str:
    return _env.get_template(name).render(**context)


def environment() -> Environment:
    return _env
