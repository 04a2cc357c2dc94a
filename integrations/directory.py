"""The utility directory of the onboarding wizard, answered by WattShift (settings.UTILITY_DIRECTORY)."""

from __future__ import annotations

from typing import Any

from homes.directory import DirectoryUnavailable
from portal.models import Organization

from .clients import CallLog, client_for
from .http import UpstreamError
from .models import Connection, Platform
from .wattshift import WattShiftClient


class WattShiftDirectory:
    """`POST /v1/utility/get {zipcode}` with the organization's WattShift connection."""

    def utilities_for_zip(self, organization: Organization, zip_code: str) -> list[dict[str, Any]]:
        connection = Connection.objects.filter(
            organization=organization, platform=Platform.WATTSHIFT, enabled=True
        ).first()
        if connection is None or not connection.has_credentials:
            raise DirectoryUnavailable(
                "WattShift is not connected, so utilities can't be looked up."
            )
        try:
            client = client_for(connection, CallLog())
            assert isinstance(client, WattShiftClient)  # a WattShift connection's client
            return client.get_utilities(zip_code)
        except UpstreamError as exc:
            raise DirectoryUnavailable(f"WattShift did not answer ({exc}).") from exc
