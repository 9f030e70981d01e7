"""Value types shared by several event models: countries, phone numbers, languages, places, areas."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, model_validator
from pydantic.json_schema import JsonDict

from shared.countries import country_pattern

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

Language = Literal["fr", "nl", "de", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "nl", "de", "en")


def _country(value: str) -> str:
    code = value.upper()
    if pycountry.countries.get(alpha_2=code) is None and code != "XK":
        raise ValueError("must be an ISO 3166-1 alpha-2 country code")
    return code


def is_e164(value: str) -> bool:
    return _E164.match(value) is not None


def _e164(value: str) -> str:
    if not is_e164(value):
        raise ValueError("must be an E.164 phone number such as +32470123456")
    return value


#: The schemas state the rules the validators enforce (exactly: the codes pycountry knows, plus XK, in any case).
CountryCode = Annotated[str, AfterValidator(_country), Field(json_schema_extra={"pattern": country_pattern()})]
E164 = Annotated[str, AfterValidator(_e164), Field(json_schema_extra={"pattern": _E164.pattern})]

#: Marks a field holding personal data; the register of processing (docs/privacy.md) must list it.
PERSONAL: JsonDict = {"personal_data": True}


class WireModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Point(WireModel):
    # Numbers are strict: a JSON `true` is not a coordinate (lax mode would read it as 1).
    lat: float = Field(ge=-90, le=90, strict=True)
    lon: float = Field(ge=-180, le=180, strict=True)


class Circle(Point):
    radius_km: float = Field(gt=0, le=20000, strict=True)


class Area(WireModel):
    """An incident's area: a circle, a polygon of [lon, lat] pairs, or (neither) the whole country."""

    country: CountryCode
    circle: Circle | None = None
    polygon: Annotated[list[tuple[StrictFloat, StrictFloat]] | None, Field(json_schema_extra={"minItems": 3})] = None

    @model_validator(mode="after")
    def _polygon_closed_enough(self) -> Area:
        if self.polygon is not None and len(self.polygon) < 3:
            raise ValueError("a polygon needs at least 3 points")
        return self
