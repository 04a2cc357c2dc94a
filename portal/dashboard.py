"""The dashboard's cards. Apps register what they count in `AppConfig.ready()`, so that
`portal` never imports them (imports point one way: portal <- homes <- devices <- integrations)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone

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


@dataclass(frozen=True)
class Task:
    """One thing a person must act on, naming its record and linking to it."""

    title: str
    url: str
    reason: str
    tone: str = "warning"  # a Bootstrap colour: danger for a refusal, warning for a wait


@dataclass(frozen=True)
class TaskSource:
    """One kind of work in the dashboard's "Needs a person" section. `tasks` returns the first
    few and how many there are in all; `url_name` and `query` the page listing every one of them."""

    name: str
    heading: str
    tasks: Callable[[Membership], tuple[list[Task], int]]
    url_name: str
    query: str = ""
    order: int = 100
    required_role: str = "viewer"


TASKS: dict[str, TaskSource] = {}


def register_tasks(source: TaskSource) -> None:
    TASKS[source.name] = source


def tasks_for(membership: Membership) -> list[tuple[TaskSource, list[Task], int]]:
    """Each source this member may act on that has work, with its first tasks and their count."""
    found = []
    for source in sorted(TASKS.values(), key=lambda s: s.order):
        if not membership.allows(source.required_role):
            continue
        tasks, total = source.tasks(membership)
        if total:
            found.append((source, tasks, total))
    return found


@dataclass(frozen=True)
class GlanceRow:
    label: str
    value: float
    share: float | None = None  # of the glance's total, 0-100, for the bar


@dataclass(frozen=True)
class Glance:
    """A breakdown in "This month at a glance": rows computed by aggregate queries over the
    month so far (`start` is the first instant of the month in the organization's zone)."""

    name: str
    title: str
    unit: str
    rows: Callable[[Organization, datetime], list[GlanceRow]]
    order: int = 100
    empty: str = "Nothing this month yet."


GLANCES: dict[str, Glance] = {}


def register_glance(glance: Glance) -> None:
    GLANCES[glance.name] = glance


def month_start(organization: Organization) -> datetime:
    """The first instant of the current month where the organization is."""
    local = timezone.localtime(timezone.now(), ZoneInfo(organization.timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def glances_for(membership: Membership) -> list[tuple[Glance, list[GlanceRow]]]:
    start = month_start(membership.organization)
    return [
        (glance, glance.rows(membership.organization, start))
        for glance in sorted(GLANCES.values(), key=lambda g: g.order)
    ]


def with_shares(rows: list[tuple[str, float]]) -> list[GlanceRow]:
    """Rows largest first, each with its share of their total."""
    total = sum(value for _, value in rows)
    return [
        GlanceRow(label, value, round(100 * value / total) if total else 0)
        for label, value in sorted(rows, key=lambda row: -row[1])
    ]


@dataclass(frozen=True)
class Action:
    """A quick action at the top of the dashboard."""

    label: str
    url_name: str
    icon: str
    order: int = 100
    required_role: str = "member"


ACTIONS: dict[str, Action] = {}


def register_action(action: Action) -> None:
    ACTIONS[action.url_name] = action


def actions_for(membership: Membership) -> list[Action]:
    return [
        action
        for action in sorted(ACTIONS.values(), key=lambda a: a.order)
        if membership.allows(action.required_role)
    ]
