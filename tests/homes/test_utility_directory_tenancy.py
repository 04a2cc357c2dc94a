"""Utilities and rate plans are each organization's own: they come from its own WattShift
connection, whose address its admins choose, so one organization's answer (a fake server's) never
renames, extends or stands in for what another sees, on any page, import, payload or the admin;
and the migration that made them so keeps every home's utility and rate plan."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from devices.imports import DeviceImporter
from homes import demo as home_demo
from homes import services as home_services
from homes.directory import DirectoryUnavailable, lookup_utilities
from homes.models import Home, RatePlan, Utility
from integrations.adapters.wattshift import WattShiftHome
from integrations.clients import forget_clients
from integrations.models import Connection
from integrations.sandbox import registry
from integrations.sandbox.base import Request, Response, RunningEmulator
from integrations.sandbox.wattshift import DEFAULT_API_KEY, WattShiftEmulator
from integrations.services import save_connection
from portal.csv_import import run_import
from portal.models import Organization, User
from tests.factories import CustomerFactory

ZIP = "95313"  # the sandbox's PG&E, with E-1 (flat), E-6, TOU-C and TOU-D
PGE = "Pacific Gas & Electric"
SCAM_PLAN = "Call +1-555-0100 to keep power"
SCAM_UTILITY = "PG&E (new billing address)"
WIZARD = "/homes/new/"


class FakeWattShift(WattShiftEmulator):
    """What an organization's admin can point its WattShift connection at: the sandbox's answer,
    with the utility renamed and a rate plan of its own added."""

    def get_utilities(self, request: Request, body: dict[str, Any]) -> Response:
        utilities = json.loads(super().get_utilities(request, body).body)
        for utility in utilities:
            utility["utilityName"] = SCAM_UTILITY
            utility["wsRatePlans"].append({"id": "ws_rp_scam", "ratePlanName": SCAM_PLAN})
        return Response.json(200, utilities)


@pytest.fixture(scope="module")
def fake_server() -> Iterator[RunningEmulator]:
    with RunningEmulator(FakeWattShift(), threads=1) as running:
        yield running


@pytest.fixture(autouse=True)
def sandbox(settings, tmp_path) -> Iterator[None]:
    settings.DATA_DIR = tmp_path
    registry.reset_all()
    forget_clients()
    yield
    registry.reset_all()
    forget_clients()


@pytest.fixture
def honest(org) -> Connection:
    """Org A (Acme): WattShift is the in-process sandbox."""
    return save_connection(
        Connection(organization=org, platform="wattshift"), api_key=DEFAULT_API_KEY
    )


@pytest.fixture
def faked(other_org, fake_server) -> Connection:
    """Org B (Rival): its WattShift connection points at the fake server, over real HTTP."""
    fake_server.app.reset()
    return save_connection(
        Connection(organization=other_org, platform="wattshift", base_url=fake_server.base_url),
        api_key=DEFAULT_API_KEY,
    )


def _names(lookup: Any) -> list[tuple[str, list[str]]]:
    return [(u.name, sorted(p.name for p in u.rate_plans.all())) for u in lookup.utilities]


def _rival_plan(other_org: Organization) -> RatePlan:
    lookup_utilities(other_org, ZIP)
    return RatePlan.objects.get(name=SCAM_PLAN)


# --- the directory --------------------------------------------------------------------------------
@pytest.mark.django_db
def test_it_keeps_what_another_organizations_wattshift_says_out_of_this_ones_utilities(
    org, other_org, honest, faked
):
    before = _names(lookup_utilities(org, ZIP))
    assert before == [(PGE, ["E-1 (flat)", "E-6", "TOU-C", "TOU-D"])]

    theirs = lookup_utilities(other_org, ZIP, refresh=True)

    assert _names(theirs) == [(SCAM_UTILITY, sorted([*before[0][1], SCAM_PLAN]))]
    assert _names(lookup_utilities(org, ZIP)) == before
    assert _names(lookup_utilities(org, ZIP, refresh=True)) == before
    ours = Utility.objects.get(organization=org)
    assert ours.name == PGE and not ours.rate_plans.filter(name=SCAM_PLAN).exists()


@pytest.mark.django_db
def test_it_asks_each_organizations_own_wattshift_and_never_serves_another_ones_answer(
    org, other_org, honest, faked, fake_server
):
    lookup_utilities(org, ZIP)  # Acme's answer is cached and fresh
    assert _names(lookup_utilities(other_org, ZIP))[0][0] == SCAM_UTILITY  # Rival asked its own
    assert [path for _, path, _ in fake_server.app.calls] == ["/v1/utility/get"]

    # Rival's WattShift is down and Rival has nothing for another zip: Acme's answer for it is
    # not Rival's stale answer.
    lookup_utilities(org, "01040")
    fake_server.app.faults.fail_next = 5
    with pytest.raises(DirectoryUnavailable):
        lookup_utilities(other_org, "01040")
    # Rival's own stale answer comes back with the notice; Acme's is untouched and has none.
    stale = lookup_utilities(other_org, ZIP, refresh=True)
    assert "did not answer" in stale.notice and _names(stale)[0][0] == SCAM_UTILITY
    assert lookup_utilities(org, ZIP).notice == ""


# --- forms, the wizard, every write path ----------------------------------------------------------
@pytest.mark.django_db
def test_it_refuses_another_organizations_utility_and_rate_plan_in_the_home_form(
    org, other_org, honest, faked, member_client
):
    ours = lookup_utilities(org, ZIP).utilities[0]
    scam = _rival_plan(other_org)
    customer = CustomerFactory(organization=org)
    form = {"customer": customer.pk, "name": "H", "zip_code": ZIP, "country": "US"}

    for utility in (ours, scam.utility):
        response = member_client.post(
            reverse("home_create"), {**form, "utility": utility.pk, "rate_plan": scam.pk}
        )
        assert response.status_code == 200
        errors = response.context["form"].errors
        assert "valid choice" in errors["rate_plan"][0]
    assert "valid choice" in errors["utility"][0]
    assert not Home.objects.exists()
    page = member_client.get(reverse("home_create")).content.decode()
    assert SCAM_PLAN not in page and SCAM_UTILITY not in page


@pytest.mark.django_db
def test_it_neither_lists_nor_takes_another_organizations_rate_plan_in_the_wizard(
    org, other_org, honest, faked, member_client
):
    scam = _rival_plan(other_org)
    step = "home_wizard-current_step"
    response = member_client.post(WIZARD, {step: "zip", "zip-zip_code": ZIP}, follow=True)
    [card] = response.context["wizard"]["form"].cards()
    assert card.utility.name == PGE and SCAM_PLAN not in [o.plan.name for o in card.plans]
    assert SCAM_PLAN not in response.content.decode()

    response = member_client.post(
        WIZARD,
        {step: "plan", "plan-utility": card.utility.pk, "plan-rate_plan": scam.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert response.context["wizard"]["steps"].current == "plan"
    assert "not one of these utilities" in response.context["wizard"]["form"].errors["rate_plan"][0]


@pytest.mark.django_db
def test_it_refuses_another_organizations_utility_or_rate_plan_on_save(
    org, other_org, honest, faked
):
    ours = lookup_utilities(org, ZIP).utilities[0]
    scam = _rival_plan(other_org)
    customer = CustomerFactory(organization=org)
    for utility, plan, field in ((scam.utility, None, "utility"), (ours, scam, "rate_plan")):
        home = Home(
            organization=org,
            customer=customer,
            name="H",
            zip_code=ZIP,
            utility=utility,
            rate_plan=plan,
        )
        with pytest.raises(ValidationError) as refused:
            home_services.save_home(home)
        assert field in refused.value.message_dict
    assert not Home.objects.exists()


@pytest.mark.django_db
def test_it_does_not_send_another_organizations_utility_to_wattshift(org, other_org, honest, faked):
    ours = lookup_utilities(org, ZIP).utilities[0]
    home = home_services.save_home(
        Home(
            organization=org,
            customer=CustomerFactory(organization=org),
            name="H",
            zip_code=ZIP,
            utility=ours,
            rate_plan=ours.rate_plans.first(),
        )
    )
    assert WattShiftHome().payload(home, "")["utilityId"] == ours.ws_utility_id
    scam = _rival_plan(other_org)
    # Written around Home.clean (a raw update): the payload builder still refuses it.
    Home.objects.filter(pk=home.pk).update(utility=scam.utility, rate_plan=scam)
    with pytest.raises(ValueError, match="another organization"):
        WattShiftHome().payload(Home.objects.get(pk=home.pk), "")


@pytest.mark.django_db
def test_it_resolves_an_imported_utility_name_among_the_organizations_own_only(
    org, other_org, honest, faked
):
    _rival_plan(other_org)  # Rival now has a utility named SCAM_UTILITY
    lookup_utilities(org, ZIP)  # and Acme one named PGE
    header = [
        "name",
        "customId",
        "location",
        "utility",
        "deviceOwner",
        "kind",
        "nameplateCapacityKw",
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    row = {"name": "Roof", "kind": "solar", "nameplateCapacityKw": "7", "deviceOwner": "Pat Doe"}
    writer.writerow(
        {
            **row,
            "customId": "SP-1",
            "location": "60 Greene St Riverside IA 52327",
            "utility": SCAM_UTILITY,
        }
    )
    writer.writerow(
        {**row, "customId": "SP-2", "location": "2 Main St Crows Landing CA 95313", "utility": PGE}
    )

    result = run_import(DeviceImporter(org), out.getvalue().encode())

    assert result.errors == [], result.errors
    assert [(w.row, w.column) for w in result.warnings] == [(2, "utility")]
    homes = {home.street: home for home in Home.objects.filter(organization=org)}
    assert homes["60 Greene St"].utility is None
    assert homes["2 Main St"].utility.organization == org


@pytest.mark.django_db
def test_it_offers_only_the_homes_organizations_utilities_in_the_admin(
    org, other_org, honest, faked
):
    ours = lookup_utilities(org, ZIP).utilities[0]
    plan = ours.rate_plans.first()
    home = home_services.save_home(
        Home(
            organization=org,
            customer=CustomerFactory(organization=org),
            name="H",
            zip_code=ZIP,
            utility=ours,
            rate_plan=plan,
        )
    )
    scam = _rival_plan(other_org)
    staff = User.objects.create_superuser("root@gridfolio.test", "pw-long-enough-1")
    client = Client()
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("admin:homes_home_change", args=[home.pk])
    form = client.get(url).context["adminform"].form
    data = {
        name: value
        for name, value in {
            **{name: form[name].value() for name in form.fields},
            "utility": scam.utility.pk,
            "rate_plan": scam.pk,
            "meters-TOTAL_FORMS": "0",
            "meters-INITIAL_FORMS": "0",
        }.items()
        if value is not None
    }

    response = client.post(url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "utility" in errors and "rate_plan" in errors
    home.refresh_from_db()
    assert (home.utility, home.rate_plan) == (ours, plan)


@pytest.mark.django_db
def test_it_seeds_demo_homes_with_each_organizations_own_utilities(org, other_org, honest, faked):
    home_demo.seed(org, None)  # type: ignore[arg-type]
    home_demo.seed(other_org, None)  # type: ignore[arg-type]
    homes = Home.objects.select_related("utility", "rate_plan__utility").exclude(utility=None)
    assert {home.organization_id for home in homes} == {org.pk, other_org.pk}
    for home in homes:
        assert home.utility.organization_id == home.organization_id
        assert home.rate_plan.utility_id == home.utility_id
    acme = Home.objects.get(organization=org, zip_code=ZIP)
    assert acme.utility.name == PGE and acme.rate_plan.name != SCAM_PLAN


# --- the migration --------------------------------------------------------------------------------
BEFORE = [("homes", "0003_meter_wattics_format")]
AFTER = [("homes", "0006_utility_organization_required")]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture
def migrator() -> Iterator[Any]:
    yield _migrate
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_it_keeps_each_homes_utility_and_rate_plan_through_the_migration(org, other_org, migrator):
    old = migrator(BEFORE)
    utility_model, plan_model = (
        old.get_model("homes", "Utility"),
        old.get_model("homes", "RatePlan"),
    )
    home_model, customer_model = old.get_model("homes", "Home"), old.get_model("homes", "Customer")
    zips = old.get_model("homes", "ZipUtilities")
    shared = utility_model.objects.create(ws_utility_id="ws_util_ca_pge", name=PGE)
    tou = plan_model.objects.create(utility=shared, ws_rate_plan_id="ws_rp_tou", name="TOU-D")
    flat = plan_model.objects.create(utility=shared, ws_rate_plan_id="ws_rp_flat", name="E-1")
    unused = utility_model.objects.create(ws_utility_id="ws_util_unused", name="Nobody's")
    zips.objects.create(zip_code=ZIP, fetched_at="2026-01-01T00:00:00Z").utilities.add(shared)

    def home(organization: Organization, name: str, **refs: Any) -> int:
        customer = customer_model.objects.create(organization_id=organization.pk, name=name)
        return home_model.objects.create(
            organization_id=organization.pk, customer=customer, name=name, zip_code=ZIP, **refs
        ).pk

    acme = home(org, "Acme home", utility=shared, rate_plan=tou)
    rival = home(other_org, "Rival home", utility=shared, rate_plan=flat)
    rival_plan_only = home(other_org, "Rival plan only", rate_plan=tou)

    new = migrator(AFTER)

    utilities, homes = new.get_model("homes", "Utility"), new.get_model("homes", "Home")
    assert not utilities.objects.filter(pk=unused.pk).exists()
    assert not new.get_model("homes", "ZipUtilities").objects.exists()
    rows = {
        pk: homes.objects.select_related("utility", "rate_plan__utility").get(pk=pk)
        for pk in (acme, rival, rival_plan_only)
    }
    assert [
        (
            h.utility and (h.utility.organization_id, h.utility.ws_utility_id, h.utility.name),
            h.rate_plan.utility.organization_id,
            h.rate_plan.ws_rate_plan_id,
            h.rate_plan.name,
        )
        for h in rows.values()
    ] == [
        ((org.pk, "ws_util_ca_pge", PGE), org.pk, "ws_rp_tou", "TOU-D"),
        ((other_org.pk, "ws_util_ca_pge", PGE), other_org.pk, "ws_rp_flat", "E-1"),
        (None, other_org.pk, "ws_rp_tou", "TOU-D"),
    ]
    assert rows[acme].utility_id == shared.pk and rows[rival].utility_id != shared.pk
    assert rows[rival_plan_only].rate_plan.utility_id == rows[rival].utility_id
    for organization in (org, other_org):
        [copy] = utilities.objects.filter(organization_id=organization.pk)
        assert sorted(copy.rate_plans.values_list("name", flat=True)) == ["E-1", "TOU-D"]

    back = migrator(BEFORE)  # and back: one PG&E again, every home still on it

    [pge] = back.get_model("homes", "Utility").objects.all()
    old_homes = back.get_model("homes", "Home").objects.select_related("rate_plan")
    assert {(h.utility_id, h.rate_plan.utility_id, h.rate_plan.name) for h in old_homes} == {
        (pge.pk, pge.pk, "TOU-D"),
        (pge.pk, pge.pk, "E-1"),
        (None, pge.pk, "TOU-D"),
    }
