"""The dashboard's cards. Apps register what they count in `AppConfig.ready()`, so that
`portal` never imports them (imports point one way: portal <- homes <- devices <- integrations)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet

from .models import Membership, Organization


@dataclass(frozen=True)
class Card:
    """One count on the dashboard, linking to its list page."""

    label: str
    url_name: str
    queryset: Callable[[Organization], QuerySet]
    icon: str = "bi-collection"
    order: int = 100
    required_role: str = "viewer"


CARDS: dict[str, Card] = {}


def register_card(card: Card) -> None:
    CARDS[card.label] = card


def cards_for(membership: Membership) -> list[tuple[Card, int]]:
    """The cards this member may follow, with their counts."""
    cards = sorted(CARDS.values(), key=lambda c: c.order)
    return [
        (card, card.queryset(membership.organization).count())
        for card in cards
        if membership.allows(card.required_role)
    ]


@dataclass(frozen=True)
class NavItem:
    """A navigation entry, registered by the app that owns the page."""

    label: str
    url_name: str
    order: int
    icon: str = ""
    required_role: str = "viewer"


NAV: dict[str, NavItem] = {}


def register_nav(item: NavItem) -> None:
    NAV[item.url_name] = item


def nav_items() -> list[NavItem]:
    return sorted(NAV.values(), key=lambda item: item.order)


@dataclass(frozen=True)
class Panel:
    """A block under the dashboard's cards: a template and the context it needs."""

    name: str
    template: str
    context: Callable[[Membership], dict]
    order: int = 100
    required_role: str = "viewer"


PANELS: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    PANELS[panel.name] = panel


def panels_for(membership: Membership) -> list[tuple[Panel, dict]]:
    panels = sorted(PANELS.values(), key=lambda p: p.order)
    return [
        (panel, panel.context(membership))
        for panel in panels
        if membership.allows(panel.required_role)
    ]
