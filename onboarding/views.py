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

Each step's form (and what it shows) is in `onboarding/steps/`, their order in `steps.STEPS`; the
one write is `onboarding.services.onboard_home()`.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from formtools.wizard.forms import ManagementForm
from formtools.wizard.views import SessionWizardView

from homes.directory import UtilityLookup, cached_lookup, lookup_utilities
from homes.models import Customer
from portal.crud import query_id
from portal.models import Role
from portal.tenancy import OrgRequiredMixin

from .forms import CUSTOM_ID_TAKEN, DeviceStepForm, custom_id_taken
from .services import onboard_home
from .steps import STEP_TITLES, STEPS
from .steps.devices import HeatPumpForm, SolarForm
from .steps.home import HomeStepForm
from .steps.review import review_sections
from .steps.zip import describe_place, zip_prefill, zip_timezone


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
        if goto is not None and goto in self.get_form_list():
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
            old = zip_prefill(old_zip)
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
            initial: dict[str, Any] = zip_prefill(zip_data["zip_code"]) if zip_data else {}
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
            context["place"] = describe_place(
                zip_data["zip_code"], zip_data["lookup"], self.request.organization
            )
        if current == "review":
            context["sections"] = self._review_sections()
        return context

    def _all_valid_before(self, step: str) -> bool:
        return self.reachable(step) == step

    def _review_sections(self) -> list[dict[str, Any]]:
        """Everything entered, by step, for the review page (each with its Edit button)."""
        zip_data = self.get_cleaned_data_for_step("zip") or {}
        place = (
            describe_place(zip_data["zip_code"], zip_data["lookup"], self.request.organization)
            if zip_data
            else {}
        )
        sections = review_sections(
            place=place,
            plan=self.get_cleaned_data_for_step("plan") or {},
            home=self.get_cleaned_data_for_step("home") or {},
            solar=self._valid_form("solar"),
            heat_pump=self._valid_form("heat_pump"),
        )
        for section in sections:
            section["title"] = STEP_TITLES[section["step"]]
        return sections

    def _valid_form(self, step: str) -> DeviceStepForm | None:
        form = self.get_form(step, data=self.storage.get_step_data(step))
        return form if form.is_valid() else None

    # --- Create ---------------------------------------------------------------------------------
    def done(
        self, form_list: list[forms.Form], *, form_dict: dict[str, forms.Form], **kwargs: Any
    ) -> HttpResponse:
        organization = self.request.organization
        plan = form_dict["plan"].cleaned_data
        home_form = cast(HomeStepForm, form_dict["home"])
        solar_form = cast(SolarForm, form_dict["solar"])
        heat_pump_form = cast(HeatPumpForm, form_dict["heat_pump"])
        zip_code = form_dict["zip"].cleaned_data["zip_code"]
        home_fields = {
            **home_form.home_fields(),
            "zip_code": zip_code,
            # Explicit, so that what the zip step showed is what is saved (save_home would take
            # the zip table's zone even when it is not a real one).
            "timezone": zip_timezone(zip_code) or organization.timezone,
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
            if custom_id and custom_id_taken(organization, custom_id):
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
