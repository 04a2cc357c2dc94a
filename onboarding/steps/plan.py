"""Step 2: the utility on the customer's bill and one of its rate plans, drawn as one card per
utility serving the zip."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from django import forms

from homes.directory import UtilityLookup
from homes.models import RatePlan, Utility
from portal.models import Organization


@dataclass
class PlanOption:
    """One rate plan radio of a utility card."""

    plan: RatePlan
    input_id: str
    checked: bool


@dataclass
class UtilityCard:
    """One utility serving the zip, with its plans, as the template draws it."""

    utility: Utility
    input_id: str
    checked: bool
    plans: list[PlanOption] = field(default_factory=list)


class PlanForm(forms.Form):
    """The utility on the customer's bill and one of its rate plans."""

    utility = forms.ModelChoiceField(
        queryset=Utility.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={
            "required": "Choose the utility on the customer's bill.",
            "invalid_choice": "That utility does not serve this zip code: choose one listed here.",
        },
    )
    rate_plan = forms.ModelChoiceField(
        queryset=RatePlan.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={
            "required": "Choose the rate plan on the customer's bill.",
            "invalid_choice": "That rate plan is not one of these utilities': choose one listed here.",
        },
    )

    def __init__(
        self,
        *args: Any,
        organization: Organization,
        lookup: UtilityLookup | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.utilities = [
            utility
            for utility in (lookup.utilities if lookup else [])
            if utility.organization_id == organization.pk
        ]
        ids = [utility.pk for utility in self.utilities]
        utility = cast(forms.ModelChoiceField, self.fields["utility"])
        rate_plan = cast(forms.ModelChoiceField, self.fields["rate_plan"])
        utility.queryset = Utility.objects.for_org(organization).filter(pk__in=ids)
        rate_plan.queryset = (
            RatePlan.objects.for_org(organization)
            .filter(utility_id__in=ids)
            .select_related("utility")
        )
        if len(self.utilities) == 1:
            self.fields["utility"].initial = self.utilities[0].pk

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        utility, plan = data.get("utility"), data.get("rate_plan")
        if utility and plan and plan.utility_id != utility.pk:
            self.add_error(
                "rate_plan",
                f"{plan.name} is a plan of {plan.utility.name}, not of {utility.name}: "
                f"choose one of {utility.name}'s plans.",
            )
        return data

    def cards(self) -> list[UtilityCard]:
        chosen_utility = str(self["utility"].value() or "")
        chosen_plan = str(self["rate_plan"].value() or "")
        cards = []
        for utility in self.utilities:
            card = UtilityCard(
                utility,
                f"{self['utility'].auto_id}_{utility.pk}",
                str(utility.pk) == chosen_utility,
            )
            for plan in utility.rate_plans.all():
                card.plans.append(
                    PlanOption(
                        plan, f"{self['rate_plan'].auto_id}_{plan.pk}", str(plan.pk) == chosen_plan
                    )
                )
            cards.append(card)
        return cards
