"""Customers, homes, meters, and the utilities and rate plans that serve a zip code (each
organization's own: they come from its own WattShift connection)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from portal.models import TIMEZONE_CHOICES, Organization
from portal.tenancy import OrgOwned

zip_code_validator = RegexValidator(
    r"^\d{5}(-\d{4})?$", "Enter a US zip code: 5 digits, optionally followed by -NNNN."
)


class Customer(OrgOwned):
    """The project developer's end customer (a Volue Spark "user")."""

    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    external_ref = models.CharField(
        "external reference",
        max_length=100,
        blank=True,
        help_text="Your own id for this customer (CRM, billing).",
    )

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["organization", "name"])]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("customer_detail", args=[self.pk])


class Utility(OrgOwned):
    """An electric utility as the organization's own WattShift connection describes it."""

    ws_utility_id = models.CharField("WattShift utility id", max_length=100)
    name = models.CharField(max_length=200)
    fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "utilities"
        constraints = [
            # What one organization's connection says must never rename or extend another's.
            models.UniqueConstraint(
                fields=["organization", "ws_utility_id"], name="unique_utility_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.name


class RatePlanQuerySet(models.QuerySet):
    """Rate plans, narrowed to one organization through their utility."""

    def for_org(self, organization: Organization) -> RatePlanQuerySet:
        return self.filter(utility__organization=organization)


class RatePlan(models.Model):
    """A tariff of one utility (owned by the utility's organization)."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="rate_plans")
    ws_rate_plan_id = models.CharField("WattShift rate plan id", max_length=100)
    name = models.CharField(max_length=200)
    # WattShift's current API names a plan twice: `id` (what a home sends as `ratePlanId`) and
    # `rateID`, the tariff's own code, a reference for people only.
    rate_reference = models.CharField(
        "rate reference",
        max_length=100,
        blank=True,
        help_text="The tariff's code as WattShift gives it (`rateID`): shown, never sent.",
    )
    supported_type = models.CharField(
        max_length=100,
        blank=True,
        help_text="What WattShift says the plan supports (`supportedType`).",
    )
    is_time_of_use = models.BooleanField(default=False, help_text="Prices vary by time of day.")

    objects = RatePlanQuerySet.as_manager()

    class Meta:
        ordering = ["utility__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "ws_rate_plan_id"], name="unique_rate_plan_per_utility"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def reference_shown(self) -> str:
        """Its rate reference where it says more than the name ("" where the name holds it)."""
        if self.rate_reference and self.rate_reference.lower() not in self.name.lower():
            return self.rate_reference
        return ""

    @property
    def label(self) -> str:
        """The plan as a person chooses it: its name, and its rate reference when that adds one."""
        if self.reference_shown:
            return f"{self.name} (rate {self.reference_shown})"
        return self.name


class ZipUtilities(OrgOwned):
    """Which utilities serve a zip code, as the organization's WattShift last said (a cache)."""

    zip_code = models.CharField(max_length=5)
    utilities = models.ManyToManyField(Utility, related_name="zip_codes", blank=True)
    fetched_at = models.DateTimeField()

    class Meta:
        verbose_name = "zip code's utilities"
        verbose_name_plural = "zip codes' utilities"
        ordering = ["zip_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "zip_code"], name="unique_zip_utilities_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.zip_code


class ACType(models.TextChoices):
    """Air conditioning types, as WattShift names them."""

    CENTRAL = "central", "Central"
    WINDOW = "window", "Window"
    SPLIT = "split", "Split"
    OTHER = "other", "Other"


class Home(OrgOwned):
    """A site: the address where devices are installed and meters read."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="homes")
    name = models.CharField(max_length=255)
    street = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True, help_text="Two-letter state code.")
    zip_code = models.CharField(max_length=10, validators=[zip_code_validator])
    country = models.CharField(max_length=2, default="US")
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    timezone = models.CharField(
        max_length=64,
        choices=TIMEZONE_CHOICES,
        blank=True,
        help_text="IANA time zone; derived from the zip code when left empty.",
    )
    utility = models.ForeignKey(
        Utility, on_delete=models.SET_NULL, null=True, blank=True, related_name="homes"
    )
    rate_plan = models.ForeignKey(
        RatePlan, on_delete=models.SET_NULL, null=True, blank=True, related_name="homes"
    )
    has_ev_charger = models.BooleanField("EV charger", default=False)
    has_electric_heater = models.BooleanField("electric heater", default=False)
    has_smart_water_heater = models.BooleanField("smart water heater", default=False)
    has_electric_water_heater = models.BooleanField(
        "electric water heater", null=True, blank=True, help_text="Leave unknown if unsure."
    )
    has_ac = models.BooleanField("air conditioning", default=False)
    ac_type = models.CharField("AC type", max_length=10, choices=ACType.choices, blank=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [
            models.Index(fields=["organization", "name"]),
            models.Index(fields=["organization", "zip_code"]),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("home_detail", args=[self.pk])

    def clean(self) -> None:
        """Refuse another organization's utility or rate plan (every write path saves through
        full_clean: forms, the wizard, imports, the admin)."""
        errors: dict[str, str] = {}
        if (
            self.utility_id
            and self.utility is not None
            and self.utility.organization_id != self.organization_id
        ):
            errors["utility"] = "This utility belongs to another organization."
        if self.rate_plan_id and self.rate_plan is not None:
            # A plan of the utility just checked needs no second look (nor another query).
            checked = self.rate_plan.utility_id == self.utility_id and "utility" not in errors
            if not checked and self.rate_plan.utility.organization_id != self.organization_id:
                errors["rate_plan"] = "This rate plan belongs to another organization."
        if errors:
            raise ValidationError(errors)

    @property
    def address(self) -> str:
        parts = [self.street, self.city, f"{self.state} {self.zip_code}".strip()]
        return ", ".join(part for part in parts if part)

    @property
    def has_coordinates(self) -> bool:
        return self.latitude is not None and self.longitude is not None


class LocationType(models.TextChoices):
    """Where a meter is, as Volue Spark classifies it."""

    RESIDENTIAL = "residential", "Residential"
    COMMERCIAL = "commercial", "Commercial"
    OTHER = "other", "Other"


class Meter(OrgOwned):
    """A home's utility meter; its consumption readings can be pushed to Wattics."""

    home = models.ForeignKey(Home, on_delete=models.PROTECT, related_name="meters")
    meter_number = models.CharField(
        max_length=100, help_text="The number on the meter; unique in your organization."
    )
    meter_point_id = models.CharField(
        "meter point id", max_length=100, blank=True, help_text="The utility's metering point id."
    )
    location_type = models.CharField(
        max_length=20, choices=LocationType.choices, default=LocationType.RESIDENTIAL
    )
    wattics_stream_id = models.CharField(
        "Wattics data stream id",
        max_length=100,
        blank=True,
        help_text="Set to push this meter's readings to Wattics.",
    )
    wattics_format = models.CharField(
        "Wattics packet format",
        max_length=12,
        choices=[
            ("value", "Interval value (kWh per hour)"),
            ("electrical", "Electricity meter (cumulative Wh)"),
        ],
        default="value",
        help_text="How the Wattics stream is set up: single values, or an electricity meter's register (pC_1).",
    )

    class Meta:
        ordering = ["meter_number", "pk"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("meter_number"),
                name="unique_meter_number_per_org",
                violation_error_message="Another meter in your organization has this number.",
            )
        ]

    def __str__(self) -> str:
        return f"Meter {self.meter_number}"

    def get_absolute_url(self) -> str:
        return reverse("meter_detail", args=[self.pk])
