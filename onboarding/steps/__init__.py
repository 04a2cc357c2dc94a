"""The wizard's steps, in order: each has its own module here (its form and what it shows)."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms

from .devices import HeatPumpForm, SolarForm
from .home import HomeStepForm
from .plan import PlanForm
from .review import ReviewForm
from .zip import ZipForm


@dataclass(frozen=True)
class Step:
    """One wizard step: its name (in URLs and form prefixes), title and form."""

    name: str
    title: str
    form: type[forms.Form]


STEPS = (
    Step("zip", "Zip code", ZipForm),
    Step("plan", "Utility & rate plan", PlanForm),
    Step("home", "Customer & home", HomeStepForm),
    Step("solar", "Solar", SolarForm),
    Step("heat_pump", "Heat pump", HeatPumpForm),
    Step("review", "Review", ReviewForm),
)
STEP_TITLES = {step.name: step.title for step in STEPS}
