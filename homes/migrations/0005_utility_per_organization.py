# Each utility that homes use is given to the organization of those homes; every further
# organization using it gets its own copy (with copies of the rate plans), and its homes are
# repointed to the copy.
# Utilities no home uses are dropped, and so is the zip cache: each organization's WattShift
# connection fills its own again on the next lookup.

from collections import defaultdict

from django.db import migrations


def _users(Home):
    """{utility id: ids of the organizations whose homes use it, as utility or through a plan}."""
    users = defaultdict(set)
    by_utility = Home.objects.filter(utility__isnull=False).values_list(
        "utility_id", "organization_id"
    )
    by_plan = Home.objects.filter(rate_plan__isnull=False).values_list(
        "rate_plan__utility_id", "organization_id"
    )
    for utility_id, organization_id in [*by_utility.distinct(), *by_plan.distinct()]:
        users[utility_id].add(organization_id)
    return users


def split_per_organization(apps, schema_editor):
    Home = apps.get_model("homes", "Home")
    RatePlan = apps.get_model("homes", "RatePlan")
    Utility = apps.get_model("homes", "Utility")
    ZipUtilities = apps.get_model("homes", "ZipUtilities")

    ZipUtilities.objects.all().delete()
    users = _users(Home)
    Utility.objects.exclude(
        pk__in=Home.objects.filter(utility__isnull=False).values("utility_id")
    ).exclude(
        pk__in=Home.objects.filter(rate_plan__isnull=False).values("rate_plan__utility_id")
    ).delete()
    for utility in Utility.objects.order_by("pk"):
        first, *others = sorted(users[utility.pk])
        Utility.objects.filter(pk=utility.pk).update(organization_id=first)
        plans = list(RatePlan.objects.filter(utility_id=utility.pk).order_by("pk"))
        for organization_id in others:
            copy = Utility.objects.create(
                organization_id=organization_id,
                ws_utility_id=utility.ws_utility_id,
                name=utility.name,
                fetched_at=utility.fetched_at,
            )
            homes = Home.objects.filter(organization_id=organization_id)
            for plan in plans:
                plan_copy = RatePlan.objects.create(
                    utility_id=copy.pk,
                    ws_rate_plan_id=plan.ws_rate_plan_id,
                    name=plan.name,
                    is_time_of_use=plan.is_time_of_use,
                )
                homes.filter(rate_plan_id=plan.pk).update(rate_plan_id=plan_copy.pk)
            homes.filter(utility_id=utility.pk).update(utility_id=copy.pk)


def merge_per_wattshift_id(apps, schema_editor):
    """Back to one utility per WattShift id: the oldest row is kept, the homes of the others
    are repointed to it (and to its plan of the same WattShift id, or the plan is moved)."""
    Home = apps.get_model("homes", "Home")
    RatePlan = apps.get_model("homes", "RatePlan")
    Utility = apps.get_model("homes", "Utility")
    ZipUtilities = apps.get_model("homes", "ZipUtilities")

    ZipUtilities.objects.all().delete()
    kept = {}
    for utility in Utility.objects.order_by("pk"):
        keeper = kept.setdefault(utility.ws_utility_id, utility)
        if keeper.pk == utility.pk:
            continue
        for plan in RatePlan.objects.filter(utility_id=utility.pk).order_by("pk"):
            same = RatePlan.objects.filter(
                utility_id=keeper.pk, ws_rate_plan_id=plan.ws_rate_plan_id
            ).first()
            if same is None:
                RatePlan.objects.filter(pk=plan.pk).update(utility_id=keeper.pk)
            else:
                Home.objects.filter(rate_plan_id=plan.pk).update(rate_plan_id=same.pk)
        Home.objects.filter(utility_id=utility.pk).update(utility_id=keeper.pk)
        Utility.objects.filter(pk=utility.pk).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("homes", "0004_utility_organization"),
    ]

    operations = [
        migrations.RunPython(split_per_organization, merge_per_wattshift_id),
    ]
