"""US states, the District of Columbia and the territories: a state as people type it ("Colorado",
"colorado", "CO", "Co.") to its two-letter USPS code, or a message naming what was typed."""

from __future__ import annotations

from django.core.exceptions import ValidationError

STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
    "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
    "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire",
    "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "DC": "District of Columbia",
    "PR": "Puerto Rico", "GU": "Guam", "VI": "U.S. Virgin Islands", "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
}  # fmt: skip
_BY_NAME = {name.casefold(): code for code, name in STATES.items()} | {
    "washington dc": "DC",
    "washington d.c.": "DC",
    "d.c.": "DC",
    "virgin islands": "VI",
}


def state_code(typed: str) -> str:
    """The two-letter code of `typed` ("" stays ""); ValidationError when it is no US state."""
    text = " ".join(typed.split()).strip()
    if not text:
        return ""
    code = text.rstrip(".").upper()
    if code in STATES:
        return code
    found = _BY_NAME.get(text.casefold())
    if found:
        return found
    raise ValidationError(
        f"“{text[:40]}” is not a US state: type its name (Colorado) or its two letters (CO)."
    )
