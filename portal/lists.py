"""Columns (each with its filter) that an upper app adds to the lists of lower apps' records.

The layers point one way (`portal <- homes <- devices <- readings ... integrations`), so a devices
list cannot ask `integrations` for a device's sync state. Instead the upper app registers a
`ListColumn` in its `AppConfig.ready()`, naming the models it describes; `portal.crud.OrgListView`
shows the column, offers its filter above the list (`?<key>=<value>`), and asks the column to
describe only the page's rows (one query a page, not one a row).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models


@dataclass(frozen=True)
class Cell:
    """What a row shows in the column: a badge (or plain text without `css`), with a title."""

    text: str
    css: str = ""
    title: str = ""


@dataclass(frozen=True)
class ListColumn:
    key: str  # the filter's query parameter and the column's id, e.g. "sync"
    label: str
    model_labels: tuple[str, ...]  # "app_label.ModelName" of the lists it joins
    choices: Callable[[], list[tuple[str, str]]]  # the filter's values and labels
    narrow: Callable[[models.QuerySet, str], models.QuerySet]  # the list filtered to a value
    describe: Callable[[Sequence[models.Model]], dict[int, Cell]]  # the page's rows' cells by pk

    def applies_to(self, model: type[models.Model]) -> bool:
        return model._meta.label in self.model_labels

    def clean(self, value: str) -> str | None:
        """`value` when it is one of the filter's choices, else None (the whole list)."""
        return value if value in dict(self.choices()) else None


COLUMNS: list[ListColumn] = []


def register_column(column: ListColumn) -> None:
    COLUMNS[:] = [c for c in COLUMNS if c.key != column.key] + [column]


def columns_for(model: type[models.Model]) -> list[ListColumn]:
    return [column for column in COLUMNS if column.applies_to(model)]


def describe_rows(model: type[models.Model], rows: Sequence[Any]) -> list[str]:
    """Give each row its `extra_cells` (one Cell per column, in order); return the headers."""
    columns = columns_for(model)
    described = [column.describe(rows) for column in columns]
    for row in rows:
        row.extra_cells = [cells.get(row.pk, Cell("—")) for cells in described]
    return [column.label for column in columns]
