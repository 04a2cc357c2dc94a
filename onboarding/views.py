"""The onboarding wizard at /homes/new/: zip code, utility and rate plan, customer and home, solar,
heat pump, review, then one `onboard_home()` call.

Why a session wizard (django-formtools) rather than one long form: the rate plans offered depend on
the zip code, the city and state are prefilled from it, and each step is validated on the server
before the next one is shown, so the page never needs JavaScript to be right. Nothing of the
organization's is written until Create (the zip lookup only refreshes its utility cache):
each step's raw input lives in the session (formtools' storage), keyed to the organization, and
the whole set is validated again before `onboard_home()` writes it in one transaction.

Beyond stock formtools:
- Post/redirect/get, with the step in the URL (`?step=solar`): a refresh or the browser's own
  back and forward buttons show a step with what was stored, instead of re-posting a form.
- "Back" (and the review page's "Edit") keep what was typed on the step being left, valid or not.
- No step can be reached, by URL or a crafted POST, before the steps it depends on are valid.
- A refusal from `onboard_home()` (e.g. a custom id another device took in the meantime) comes
  back as an error on the step that can fix it, with everything else kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from formtools.wizard.forms import ManagementForm
from formtools.wizard.views import SessionWizardView

from devices.kinds import KINDS, DeviceKind, display_details, form_field, validate_details
from devices.models import Device, custom_id_validator
from homes.directory import DirectoryUnavailable, UtilityLookup, cached_lookup, lookup_utilities
from homes.models import ACType, Customer, RatePlan, Utility, zip_code_validator
from homes.services import zip_facts
from portal.crud import query_id
from portal.models import TIMEZONE_CHOICES, Organization, Role
from portal.tenancy import OrgRequiredMixin

from .services import onboard_home

CUSTOM_ID_TAKEN = "Another device in your organization has this custom id."
# The zip table has a few bad zones (99634 says "Napakiak"); Home.timezone only takes real ones.
KNOWN_TIMEZONES = frozenset(name for name, _ in TIMEZONE_CHOICES)


# --- shared pieces --------------------------------------------------------------------------------
class ZipCodeField(forms.CharField):
    """A US zip code; `953131234` and `95313 1234` are accepted as `95313-1234`."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        digits = re.sub(r"[\s-]", "", text)
        if len(digits) == 9 and digits.isdigit():
            return f"{digits[:5]}-{digits[5:]}"
        return text


def _custom_id_field(default_hint: str) -> forms.CharField:
    return forms.CharField(
        label="Custom id",
        max_length=100,
        required=False,
        validators=[custom_id_validator],
        help_text=f"Your stable id for this device (WattCarbon's customId). Leave blank to get {default_hint}.",
    )


def _custom_id_taken(organization: Organization, custom_id: str) -> bool:
    return Device.objects.filter(organization=organization, custom_id__iexact=custom_id).exists()


class DeviceStepForm(forms.Form):
    """A device step: a "has one" toggle, the kind's own fields, a date, a name and a custom id.

    When the toggle is off, the rest of the step is ignored rather than validated: it may hold
    what was typed before the user changed their mind, and it is kept for when they change it back.
    """

    kind: str
    toggle_name: str
    default_name: str
    default_custom_id_hint: str

    commenced_operation_date = forms.DateField(
        label="Commenced operation",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="WattCarbon ignores readings before this date.",
    )
    device_name = forms.CharField(label="Device name", max_length=200, required=False)

    def __init__(
        self,
        *args: Any,
        organization: Organization,
        taken_custom_ids: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.taken_custom_ids = {value.lower() for value in taken_custom_ids or set()}
        self.kind_field_names: list[str] = []
        for spec in KINDS[self.kind].fields:
            self.fields[spec.name] = form_field(spec)
            if spec.default is not None:
                self.fields[spec.name].initial = spec.default
            self.kind_field_names.append(spec.name)
        self.fields["custom_id"] = _custom_id_field(self.default_custom_id_hint)
        self.fields["device_name"].widget.attrs["placeholder"] = self.default_name
        # Drawn by hand as a Bootstrap switch (templates/onboarding/_device_header.html).
        self.fields[self.toggle_name].widget.attrs.update(
            {"class": "form-check-input", "role": "switch"}
        )
        self.details: dict[str, Any] = {}

    @property
    def is_on(self) -> bool:
        return bool(self.cleaned_data.get(self.toggle_name))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get(self.toggle_name):
            for name in [n for n in self.errors if n != self.toggle_name]:
                del self.errors[name]
            return {self.toggle_name: False}
        derived_from_missing = self.prepare_details(data)
        raw = {name: data.get(name) for name in self.kind_field_names}
        self.details, errors = validate_details(self.kind, raw)
        for name, message in errors.items():
            if name in self.fields and name not in self.errors and name not in derived_from_missing:
                self.add_error(name, message)
        custom_id = (data.get("custom_id") or "").strip()
        if custom_id and "custom_id" not in self.errors:
            if custom_id.lower() in self.taken_custom_ids:
                self.add_error(
                    "custom_id", "The solar array of this home already has this custom id."
                )
            elif _custom_id_taken(self.organization, custom_id):
                self.add_error("custom_id", CUSTOM_ID_TAKEN)
        return data

    def prepare_details(self, data: dict[str, Any]) -> set[str]:
        """Fill in what the kind's fields can derive before validation (subclasses); the names
        of fields left empty because what they derive from is missing (already an error)."""
        return set()

    def device(self) -> dict[str, Any] | None:
        """What `onboard_home()` takes for this device, or None when the toggle is off."""
        if not self.is_on:
            return None
        return {
            "name": self.cleaned_data.get("device_name", ""),
            "custom_id": self.cleaned_data.get("custom_id", ""),
            "commenced_operation_date": self.cleaned_data.get("commenced_operation_date"),
            "details": self.details,
        }

    def kind_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.kind_field_names]


# --- step 1: zip code -----------------------------------------------------------------------------
class ZipForm(forms.Form):
    """The home's zip code, and the utilities WattShift says serve it."""

    zip_code = ZipCodeField(
        label="Zip code",
        max_length=10,
        validators=[zip_code_validator],
        help_text="5 digits, optionally followed by -NNNN.",
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "autofocus": True}),
    )

    def __init__(self, *args: Any, lookup: Callable[[str], UtilityLookup], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lookup = lookup

    def clean_zip_code(self) -> str:
        zip_code = self.cleaned_data["zip_code"]
        try:
            result = self.lookup(zip_code)
        except DirectoryUnavailable as exc:
            raise ValidationError(
                f"{exc} No earlier answer for {zip_code[:5]} is saved, so its utilities are unknown."
            ) from exc
        if not result.utilities:
            raise ValidationError(
                f"WattShift knows no utility serving {zip_code[:5]}. Check the zip code."
            )
        self.cleaned_data["lookup"] = result
        return zip_code


# --- step 2: utility and rate plan ----------------------------------------------------------------
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
        self.fields["utility"].queryset = Utility.objects.for_org(organization).filter(pk__in=ids)
        self.fields["rate_plan"].queryset = (
            RatePlan.objects.for_org(organization)
            .filter(utility_id__in=ids)
            .select_related("utility")
        )
        if len(self.utilities) == 1:
            self.fields["utility"].initial = self.utilities[0].pk

    def clean(self) -> dict[str, Any]:
        data = super().clean()
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


# --- step 3: customer and home --------------------------------------------------------------------
WATER_HEATER_CHOICES = [("unknown", "Don't know"), ("true", "Yes"), ("false", "No")]


class HomeStepForm(forms.Form):
    """Who the home belongs to (an existing customer or a new one) and the home itself."""

    customer_mode = forms.ChoiceField(
        label="The home belongs to",
        choices=[("existing", "An existing customer"), ("new", "A new customer")],
        widget=forms.RadioSelect,
    )
    customer = forms.ModelChoiceField(
        label="Existing customer",
        queryset=Customer.objects.none(),
        required=False,
        empty_label="Choose a customer…",
    )
    customer_name = forms.CharField(label="Name", max_length=200, required=False)
    customer_email = forms.EmailField(label="Email", required=False)
    customer_phone = forms.CharField(label="Phone", max_length=40, required=False)

    name = forms.CharField(
        label="Home name",
        max_length=255,
        help_text="How you will find it in Gridfolio; WattShift gets it too.",
    )
    street = forms.CharField(max_length=200, required=False)
    city = forms.CharField(max_length=100, required=False)
    state = forms.CharField(max_length=2, required=False, help_text="Two letters.")
    has_ev_charger = forms.BooleanField(label="EV charger", required=False)
    has_electric_heater = forms.BooleanField(label="Electric heater", required=False)
    has_smart_water_heater = forms.BooleanField(label="Smart water heater", required=False)
    has_electric_water_heater = forms.NullBooleanField(
        label="Electric water heater",
        widget=forms.RadioSelect(choices=WATER_HEATER_CHOICES),
        initial="unknown",
        required=False,
    )
    has_ac = forms.BooleanField(label="Air conditioning", required=False)
    ac_type = forms.ChoiceField(
        label="AC type", choices=[("", "—"), *ACType.choices], required=False
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        customers = Customer.objects.for_org(organization).only("pk", "name", "email")
        self.fields["customer"].queryset = customers
        self.has_customers = customers.exists()
        self.fields["customer_mode"].initial = "existing" if self.has_customers else "new"
        if not self.has_customers:
            self.fields["customer_mode"].choices = [("new", "A new customer")]

    def clean_state(self) -> str:
        state = self.cleaned_data["state"].strip().upper()
        if state and not re.fullmatch(r"[A-Z]{2}", state):
            raise ValidationError("Enter the two-letter state code, e.g. CA.")
        return state

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("customer_mode") == "existing":
            if not data.get("customer") and "customer" not in self.errors:
                self.add_error("customer", "Choose the customer, or pick “A new customer”.")
        elif data.get("customer_mode") == "new" and not data.get("customer_name", "").strip():
            self.add_error("customer_name", "Enter the new customer's name.")
        if data.get("has_ac"):
            if not data.get("ac_type"):
                self.add_error(
                    "ac_type", "Choose the AC type: WattShift needs it when there is AC."
                )
        else:
            # A type chosen and then AC unticked is not an error: the home has no AC.
            data["ac_type"] = ""
        return data

    def onboarding_args(self) -> dict[str, Any]:
        """`customer` and `new_customer` for `onboard_home()`."""
        data = self.cleaned_data
        if data["customer_mode"] == "existing":
            return {"customer": data["customer"], "new_customer": None}
        return {
            "customer": None,
            "new_customer": {
                "name": data["customer_name"].strip(),
                "email": data["customer_email"],
                "phone": data["customer_phone"].strip(),
            },
        }

    def home_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        names = [
            "name",
            "street",
            "city",
            "state",
            "has_ev_charger",
            "has_electric_heater",
            "has_smart_water_heater",
            "has_electric_water_heater",
            "has_ac",
            "ac_type",
        ]
        return {name: data[name] for name in names}

    def customer_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in ("customer_name", "customer_email", "customer_phone")]

    def appliance_fields(self) -> list[forms.BoundField]:
        return [
            self[n] for n in ("has_ev_charger", "has_electric_heater", "has_smart_water_heater")
        ]


# --- steps 4 and 5: solar and heat pump -----------------------------------------------------------
class SolarForm(DeviceStepForm):
    """The home's solar: what WattShift needs (size, net metering) and what WattCarbon needs."""

    kind = DeviceKind.SOLAR
    toggle_name = "has_solar"
    default_name = "Solar array"
    default_custom_id_hint = "one like SOLAR-00042"

    has_solar = forms.BooleanField(label="This home has solar", required=False)

    # The WattShift fields first on the page, then WattCarbon's.
    WATTSHIFT_FIELDS = ("system_size_kw", "net_metered")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        size = self.fields["system_size_kw"]
        size.label = "System size (kW)"
        size.help_text = "WattShift needs it."
        nameplate = self.fields["nameplate_capacity_kw"]
        # Not required here: a blank nameplate capacity defaults to the system size (clean()).
        nameplate.required = False
        nameplate.help_text = "Leave blank to use the system size."
        nameplate.widget.attrs["placeholder"] = "Same as the system size"
        self.fields[
            "net_metered"
        ].help_text = "Exports are credited at the retail rate. Untick for non-net-metered solar."

    def prepare_details(self, data: dict[str, Any]) -> set[str]:
        nameplate_given = data.get("nameplate_capacity_kw") is not None
        if data.get("system_size_kw") is None:
            if "system_size_kw" not in self.errors:
                self.add_error(
                    "system_size_kw", "Enter the system size: WattShift needs it for solar."
                )
            return set() if nameplate_given else {"nameplate_capacity_kw"}
        if not nameplate_given and "nameplate_capacity_kw" not in self.errors:
            data["nameplate_capacity_kw"] = data["system_size_kw"]
        return set()

    def wattshift_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.WATTSHIFT_FIELDS]

    def wattcarbon_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.kind_field_names if n not in self.WATTSHIFT_FIELDS]


class HeatPumpForm(DeviceStepForm):
    """The home's heat pump, with WattCarbon's electrification fields."""

    kind = DeviceKind.ELECTRIFICATION
    toggle_name = "has_heat_pump"
    default_name = "Heat pump"
    default_custom_id_hint = "one like HP-00042"

    has_heat_pump = forms.BooleanField(label="This home has a heat pump", required=False)


class ReviewForm(forms.Form):
    """The review step has no fields: its submit button is Create."""


# --- the wizard -----------------------------------------------------------------------------------
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


class OnboardingRefused(Exception):
    """`onboard_home()` refused the data; `step` and `field` say where the user can fix it."""

    def __init__(self, step: str, field: str | None, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.step = step
        self.field = field
        self.messages = messages


class HomeWizard(OrgRequiredMixin, SessionWizardView):
    """/homes/new/: six short steps, each validated on the server, then one onboarding transaction."""

    required_role = Role.MEMBER
    form_list = [(step.name, step.form) for step in STEPS]

    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().setup(request, *args, **kwargs)
        self._lookups: dict[str, UtilityLookup] = {}

    # --- storage: per organization, post/redirect/get -----------------------------------------
    def _claim_storage(self) -> None:
        # The session outlives an organization switch: a draft started for another organization
        # (its customer ids, its custom ids) must not carry over.
        organization_id = self.request.organization.pk
        if self.storage.extra_data.get("organization_id") != organization_id:
            self.storage.reset()
            self.storage.extra_data = {"organization_id": organization_id}

    def _step_url(self, step: str) -> str:
        return f"{reverse('home_wizard')}?step={step}"

    def _store(self, step: str, data: dict[str, list[str]] | None) -> None:
        self.storage.set_step_data(step, data)
        for name in [n for n in vars(self) if n.startswith("_cleaned_data_cache_")]:
            delattr(self, name)

    def _has_draft(self) -> bool:
        return any(self.storage.get_step_data(step.name) for step in STEPS)

    def reachable(self, step: str) -> str:
        """`step`, or the first earlier step that is not yet valid (steps depend on earlier ones)."""
        names = list(self.get_form_list())
        if step not in names:
            return names[0]
        for earlier in names[: names.index(step)]:
            if self.get_cleaned_data_for_step(earlier) is None:
                return earlier
        return step

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Unlike stock formtools, a GET does not reset the wizard: it shows the step in the URL
        # (or the current one) with what was stored, so a refresh or the browser's back button
        # loses nothing. Only "Start over" (or Create) resets it.
        self._claim_storage()
        self._remember_customer(request.GET.get("customer", ""))
        wanted = request.GET.get("step") or self.storage.current_step or self.steps.first
        step = self.reachable(wanted)
        if "step" in request.GET and step != wanted:
            return HttpResponseRedirect(self._step_url(step))
        self.resuming = "step" not in request.GET and step != self.steps.first and self._has_draft()
        self.storage.current_step = step
        return self.render(self.get_form(step, data=self.storage.get_step_data(step)))

    def _remember_customer(self, customer_id: str) -> None:
        # "Add a home" on a customer's page links here with ?customer=<pk>: step 3 starts with
        # that customer chosen (only one of this organization's, or the parameter is ignored).
        pk = query_id(customer_id)
        if pk is not None and (
            Customer.objects.for_org(self.request.organization).filter(pk=pk).exists()
        ):
            self.storage.extra_data["customer_id"] = pk

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        self._claim_storage()
        post = self.request.POST
        if "wizard_restart" in post:
            self.storage.reset()
            return HttpResponseRedirect(self._step_url(self.steps.first))
        posted = self._posted_step()
        goto = post.get("wizard_goto_step")
        if goto in self.get_form_list():
            if posted:
                self._keep_typed_input(posted)
            return self.render_goto_step(goto)
        if posted is None:
            # A form from an older version of the page, or tampered with: show where we are.
            return HttpResponseRedirect(
                self._step_url(self.storage.current_step or self.steps.first)
            )
        if self.reachable(posted) != posted:
            return HttpResponseRedirect(self._step_url(self.reachable(posted)))
        return super().post(*args, **kwargs)

    def _posted_step(self) -> str | None:
        management = ManagementForm(self.request.POST, prefix=self.prefix)
        if not management.is_valid():
            return None
        step = management.cleaned_data["current_step"]
        return step if step in self.get_form_list() else None

    def _keep_typed_input(self, step: str) -> None:
        # Back and Edit store the step being left as typed, valid or not: moving forward
        # validates it again, and the review revalidates everything.
        if step == "review":
            return
        form = self.get_form(step, data=self.request.POST)
        self._store(step, self.get_form_step_data(form))

    def get_form_step_data(self, form: forms.Form) -> dict[str, list[str]]:
        # Only the step's own fields: not the CSRF token, not the other buttons.
        own = f"{form.prefix}-"
        data = form.data
        lists = data.lists() if isinstance(data, MultiValueDict) else data.items()
        return {key: list(values) for key, values in lists if key.startswith(own)}

    def process_step(self, form: forms.Form) -> dict[str, list[str]]:
        data = self.get_form_step_data(form)
        if self.steps.current == "zip":
            self._forget_other_zip(form.cleaned_data["zip_code"])
        return data

    def _forget_other_zip(self, new_zip: str) -> None:
        """A changed zip code invalidates the utility choice and the city and state it prefilled."""
        previous = self.storage.get_step_data("zip")
        old_zip = (previous.get("zip-zip_code") or "") if previous else ""
        if not old_zip or old_zip[:5] == new_zip[:5]:
            return
        self._store("plan", None)
        home = self.storage.get_step_data("home")
        if home:
            old = self._prefill(old_zip)
            kept = {
                key: values
                for key, values in home.lists()
                if not (key in ("home-city", "home-state") and values == [old[key[5:]]])
            }
            self._store("home", kept)

    def render_next_step(self, form: forms.Form, **kwargs: Any) -> HttpResponse:
        step = self.steps.next
        if "wizard_to_review" in self.request.POST:
            step = self.reachable("review")
        self.storage.current_step = step
        return HttpResponseRedirect(self._step_url(step))

    def render_goto_step(self, goto_step: str, **kwargs: Any) -> HttpResponse:
        step = self.reachable(goto_step)
        self.storage.current_step = step
        return HttpResponseRedirect(self._step_url(step))

    def render_done(self, form: forms.Form, **kwargs: Any) -> HttpResponse:
        final: dict[str, forms.Form] = {}
        for step in self.get_form_list():
            bound = self.get_form(step, data=self.storage.get_step_data(step))
            if not bound.is_valid():
                return self.render_revalidation_failure(step, bound, **kwargs)
            final[step] = bound
        try:
            response = self.done(list(final.values()), form_dict=final, **kwargs)
        except OnboardingRefused as refusal:
            # The draft is kept: the user fixes one field, not the whole wizard.
            return self._render_refusal(refusal, final)
        self.storage.reset()
        return response

    def _render_refusal(
        self, refusal: OnboardingRefused, final: dict[str, forms.Form]
    ) -> HttpResponse:
        form = final[refusal.step]
        for message in refusal.messages:
            form.add_error(refusal.field, message)
        self.storage.current_step = refusal.step
        return self.render(form)

    # --- forms --------------------------------------------------------------------------------
    def lookup(self, zip_code: str) -> UtilityLookup:
        """The utilities serving a zip: asked of the directory when the zip step is submitted,
        then read back from its cache while the later steps revalidate the zip.

        Every page of the wizard revalidates the zip step; asking WattShift each time would make
        every page wait on its timeouts while it is down, and could change the utilities under a
        plan already chosen. The notice of a stale answer is kept with the draft instead.
        """
        zip5 = zip_code[:5]
        if zip5 in self._lookups:
            return self._lookups[zip5]
        result = None if self._submitting_zip() else self._cached_lookup(zip5)
        if result is None:
            result = lookup_utilities(self.request.organization, zip5)
            self.storage.extra_data["zip_notice"] = {"zip": zip5, "notice": result.notice}
        self._lookups[zip5] = result
        return result

    def _submitting_zip(self) -> bool:
        return self.request.method == "POST" and self._posted_step() == "zip"

    def _cached_lookup(self, zip5: str) -> UtilityLookup | None:
        cached = cached_lookup(self.request.organization, zip5)
        if cached is None:
            return None
        kept = self.storage.extra_data.get("zip_notice") or {}
        cached.notice = kept.get("notice", "") if kept.get("zip") == zip5 else ""
        return cached

    def zip_data(self) -> dict[str, Any] | None:
        return self.get_cleaned_data_for_step("zip")

    def home_timezone(self, zip_code: str) -> str:
        """The zip's IANA zone, or "" when the zip table has none (or a bad one)."""
        timezone = zip_facts(zip_code).get("timezone") or ""
        return timezone if timezone in KNOWN_TIMEZONES else ""

    def _prefill(self, zip_code: str) -> dict[str, str]:
        facts = zip_facts(zip_code)
        return {"city": (facts.get("city") or "").title(), "state": facts.get("state") or ""}

    def get_form_kwargs(self, step: str | None = None) -> dict[str, Any]:
        organization = self.request.organization
        if step == "zip":
            return {"lookup": self.lookup}
        if step == "plan":
            zip_data = self.zip_data()
            return {
                "organization": organization,
                "lookup": zip_data["lookup"] if zip_data else None,
            }
        if step in ("home", "solar"):
            return {"organization": organization}
        if step == "heat_pump":
            solar = self.get_cleaned_data_for_step("solar") or {}
            taken = {solar["custom_id"]} if solar.get("custom_id") else set()
            return {"organization": organization, "taken_custom_ids": taken}
        return {}

    def get_form_initial(self, step: str) -> dict[str, Any]:
        if step == "home":
            zip_data = self.zip_data()
            initial: dict[str, Any] = self._prefill(zip_data["zip_code"]) if zip_data else {}
            if self.storage.extra_data.get("customer_id"):
                initial.update(
                    customer_mode="existing", customer=self.storage.extra_data["customer_id"]
                )
            return initial
        return super().get_form_initial(step)

    def get_template_names(self) -> list[str]:
        return [f"onboarding/{self.steps.current}.html"]

    def get_context_data(self, form: forms.Form, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(form=form, **kwargs)
        current = self.steps.current
        names = list(self.get_form_list())
        index = names.index(current)
        context["step_list"] = [
            {
                "name": name,
                "number": number,
                "title": STEP_TITLES[name],
                "state": "done" if number - 1 < index else "current" if name == current else "todo",
            }
            for number, name in enumerate(names, start=1)
        ]
        context["step_title"] = STEP_TITLES[current]
        context["step_number"] = index + 1
        context["step_count"] = len(names)
        context["prev_step"] = self.steps.prev
        context["resuming"] = getattr(self, "resuming", False)
        context["can_review"] = current != "review" and self._all_valid_before("review")
        zip_data = self.zip_data() if current != "zip" else None
        if zip_data:
            context["place"] = self._place(zip_data["zip_code"], zip_data["lookup"])
        if current == "review":
            context["sections"] = self._review_sections()
        return context

    def _all_valid_before(self, step: str) -> bool:
        return self.reachable(step) == step

    def _place(self, zip_code: str, lookup: UtilityLookup) -> dict[str, Any]:
        """What the zip code tells about the home: place, time zone, and its utilities."""
        facts = zip_facts(zip_code)
        organization = self.request.organization
        return {
            "zip_code": zip_code,
            "city": (facts.get("city") or "").title(),
            "state": facts.get("state") or "",
            "timezone": self.home_timezone(zip_code),
            "fallback_timezone": organization.timezone,
            "lookup": lookup,
        }

    def _review_sections(self) -> list[dict[str, Any]]:
        """Everything entered, by step, for the review page (each with its Edit button)."""
        zip_data = self.get_cleaned_data_for_step("zip") or {}
        plan = self.get_cleaned_data_for_step("plan") or {}
        home = self.get_cleaned_data_for_step("home") or {}
        solar_form = self._valid_form("solar")
        heat_pump_form = self._valid_form("heat_pump")
        place = self._place(zip_data["zip_code"], zip_data["lookup"]) if zip_data else {}
        if home.get("customer_mode") == "existing" and home.get("customer"):
            customer = [("Customer", f"{home['customer'].name} (existing)")]
        else:
            customer = [
                ("Customer", f"{home.get('customer_name', '')} (new)"),
                ("Email", home.get("customer_email") or "—"),
                ("Phone", home.get("customer_phone") or "—"),
            ]
        appliances = [
            label
            for key, label in (
                ("has_ev_charger", "EV charger"),
                ("has_electric_heater", "electric heater"),
                ("has_smart_water_heater", "smart water heater"),
            )
            if home.get(key)
        ]
        if home.get("has_ac"):
            appliances.append(f"AC ({ACType(home['ac_type']).label.lower()})")
        water = {True: "yes", False: "no", None: "don't know"}[
            home.get("has_electric_water_heater")
        ]
        location = ", ".join(p for p in (place.get("city"), place.get("state")) if p)
        sections = [
            {
                "step": "zip",
                "rows": [
                    ("Zip code", place.get("zip_code", "")),
                    ("Place", location or "Not in the zip code table"),
                    (
                        "Time zone",
                        place.get("timezone")
                        or f"{place.get('fallback_timezone')} (the organization's)",
                    ),
                ],
            },
            {
                "step": "plan",
                "rows": [
                    ("Utility", plan.get("utility", "")),
                    ("Rate plan", plan.get("rate_plan", "")),
                ],
            },
            {
                "step": "home",
                "rows": [
                    *customer,
                    ("Home", home.get("name", "")),
                    (
                        "Address",
                        ", ".join(
                            p
                            for p in (home.get("street"), home.get("city"), home.get("state"))
                            if p
                        )
                        or "—",
                    ),
                    ("Appliances", ", ".join(appliances) or "none listed"),
                    ("Electric water heater", water),
                ],
            },
            {"step": "solar", "rows": self._device_rows(solar_form)},
            {"step": "heat_pump", "rows": self._device_rows(heat_pump_form)},
        ]
        for section in sections:
            section["title"] = STEP_TITLES[section["step"]]
        return sections

    def _valid_form(self, step: str) -> DeviceStepForm | None:
        form = self.get_form(step, data=self.storage.get_step_data(step))
        return form if form.is_valid() else None

    def _device_rows(self, form: DeviceStepForm | None) -> list[tuple[str, Any]]:
        if form is None or not form.is_on:
            return [("", f"No {form.default_name.lower() if form else 'device'}")]
        data = form.cleaned_data
        rows: list[tuple[str, Any]] = [
            ("Device name", data.get("device_name") or form.default_name),
            ("Custom id", data.get("custom_id") or "generated on Create"),
        ]
        # Details are stored as JSON numbers: 1800.0 reads better as 1800.
        rows += [
            (label, int(value) if isinstance(value, float) and value.is_integer() else value)
            for label, value in display_details(form.kind, form.details)
        ]
        if data.get("commenced_operation_date"):
            rows.append(("Commenced operation", data["commenced_operation_date"]))
        return rows

    # --- Create ---------------------------------------------------------------------------------
    def done(
        self, form_list: list[forms.Form], *, form_dict: dict[str, forms.Form], **kwargs: Any
    ) -> HttpResponse:
        organization = self.request.organization
        plan = form_dict["plan"].cleaned_data
        home_form: HomeStepForm = form_dict["home"]  # type: ignore[assignment]
        solar_form: SolarForm = form_dict["solar"]  # type: ignore[assignment]
        heat_pump_form: HeatPumpForm = form_dict["heat_pump"]  # type: ignore[assignment]
        zip_code = form_dict["zip"].cleaned_data["zip_code"]
        home_fields = {
            **home_form.home_fields(),
            "zip_code": zip_code,
            # Explicit, so that what the zip step showed is what is saved (save_home would take
            # the zip table's zone even when it is not a real one).
            "timezone": self.home_timezone(zip_code) or organization.timezone,
            "utility": plan["utility"],
            "rate_plan": plan["rate_plan"],
        }
        try:
            home = onboard_home(
                organization,
                **home_form.onboarding_args(),
                home=home_fields,
                solar=solar_form.device(),
                heat_pump=heat_pump_form.device(),
            )
        except (ValidationError, IntegrityError) as exc:
            # Everything was rolled back. The steps checked what they could; what is left is
            # mostly a custom id another device took since (or a race on one): point at it.
            raise self._refusal(exc, solar_form, heat_pump_form) from exc
        devices = [form.default_name.lower() for form in (solar_form, heat_pump_form) if form.is_on]
        extra = f" with its {' and '.join(devices)}" if devices else ""
        messages.success(
            self.request,
            f"{home.name} was created{extra}. Its sync to the connected platforms is shown below.",
        )
        return HttpResponseRedirect(home.get_absolute_url())

    def _refusal(
        self, exc: ValidationError | IntegrityError, *device_forms: DeviceStepForm
    ) -> OnboardingRefused:
        organization = self.request.organization
        for form, step in zip(device_forms, ("solar", "heat_pump"), strict=True):
            custom_id = form.cleaned_data.get("custom_id") if form.is_on else ""
            if custom_id and _custom_id_taken(organization, custom_id):
                return OnboardingRefused(step, "custom_id", [CUSTOM_ID_TAKEN])
        if isinstance(exc, ValidationError):
            found = [
                f"{name}: {message}" if name != "__all__" else message
                for name, errors in getattr(exc, "error_dict", {"__all__": exc.error_list}).items()
                for message in ValidationError(errors).messages
            ]
        else:
            found = ["Another record was saved at the same moment. Try again."]
        return OnboardingRefused("review", None, ["Nothing was created.", *found])
