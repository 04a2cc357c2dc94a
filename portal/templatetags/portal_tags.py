"""Small template helpers used across the portal."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def is_section(path: str, url: str) -> bool:
    """Whether `path` is the page at `url` or below it (the dashboard "/" only matches itself)."""
    if url == "/":
        return path == "/"
    return path == url or path.startswith(url)
