"""The URL layout rule of portal/urls.py: every top-level prefix (a URL's first path segment) is
declared in exactly one urls module, so there is one place to look for what serves a URL."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterator
from types import ModuleType

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, include, path
from django.urls.resolvers import RegexPattern


def _declared_in() -> dict[int, str]:
    """Which module's route list holds each route (for the lists mounted by portal.urls.routes)."""
    found: dict[int, str] = {}
    for name, module in list(sys.modules.items()):
        if not isinstance(module, ModuleType) or not name.rpartition(".")[2].startswith("urls"):
            continue
        for value in vars(module).values():
            if isinstance(value, list):
                for entry in value:
                    if isinstance(entry, URLPattern | URLResolver):
                        found.setdefault(id(entry), name)
    return found


def _module_of(resolver: URLResolver) -> str | None:
    urlconf = resolver.urlconf_name
    if isinstance(urlconf, str):
        return urlconf
    if isinstance(urlconf, ModuleType):
        return urlconf.__name__
    return None  # a list: each route's own module says


def _prefix_declarations(
    resolver: URLResolver, module: str | None, declared_in: dict[int, str]
) -> Iterator[tuple[str, str]]:
    """(first path segment, the urls module that wrote it) for the routes of `resolver`, itself
    mounted at "" (`module` is where its routes are written, None for a list built elsewhere)."""
    for entry in resolver.url_patterns:
        where = module or declared_in.get(id(entry), "an unknown module")
        route = str(entry.pattern).removeprefix("^")
        if route:
            yield route.split("/", 1)[0], where
        elif isinstance(entry, URLResolver):
            yield from _prefix_declarations(entry, _module_of(entry), declared_in)


def prefix_modules() -> dict[str, set[str]]:
    root = get_resolver()
    modules: dict[str, set[str]] = defaultdict(set)
    for prefix, module in _prefix_declarations(root, _module_of(root), _declared_in()):
        modules[prefix].add(module)
    return modules


def test_it_declares_every_top_level_prefix_in_exactly_one_urls_module():
    modules = prefix_modules()
    shared = {prefix: sorted(where) for prefix, where in modules.items() if len(where) > 1}
    assert not shared, f"prefixes declared in more than one urls module: {shared}"


def test_it_declares_the_apps_prefixes_in_portal_urls():
    modules = prefix_modules()
    for prefix in ("customers", "homes", "meters", "devices", "uploads", "integrations"):
        assert modules[prefix] == {"portal.urls"}, prefix


def test_it_finds_a_prefix_declared_again_in_an_included_module():
    # What the rule catches: a root that mounts homes/ and includes a module declaring homes/new/.
    elsewhere = ModuleType("elsewhere.urls")
    elsewhere.urlpatterns = [path("homes/new/", _view)]  # type: ignore[attr-defined]
    root = URLResolver(
        RegexPattern(r"^/"),
        [path("homes/", include([path("", _view)])), path("", include(elsewhere))],
    )
    found = defaultdict(set)
    for prefix, module in _prefix_declarations(root, "root.urls", {}):
        found[prefix].add(module)
    assert found == {"homes": {"root.urls", "elsewhere.urls"}}


def _view(request: HttpRequest) -> HttpResponse:
    return HttpResponse()
