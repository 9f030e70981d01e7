"""Value types shared by several event models: countries, phone numbers, languages, places, areas."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import pycountry
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.json_schema import JsonDict
from pydantic_core import PydanticCustomError

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

def json_integer(value: Any) -> Any:
    """JSON Schema's `integer`: a number without fraction (`15.0` is one), never a boolean or a string.

    pydantic's lax mode reads `true` as 1 and `"5"` as 5; its strict mode refuses `15.0`: neither is the schema."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError("int_from_float", "Input should be a valid integer, got a number with a "
                                                        "fractional part")
        return int(value)
    return value


def json_number(value: Any) -> Any:
    """JSON Schema's `number`: an integer or a float, never a boolean or a string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("float_type", "Input should be a valid number")
    return value


#: Numbers in request bodies and events mean what JSON Schema says (tests/fuzz/test_request_models.py checks):
#: `x: Integer = Field(ge=1)`, or inside a type (an Optional, a list, a dict) `Annotated[int, Field(ge=1),
#: JSON_INTEGER]`: the constraints before the validator (after it, pydantic writes a bare `ge` into the schema).
JSON_INTEGER = BeforeValidator(json_integer)
JSON_NUMBER = BeforeValidator(json_number)
Integer = Annotated[int, JSON_INTEGER]
Number = Annotated[float, JSON_NUMBER]

#: Marks a field holding personal data; the register of processing (docs/privacy.md) must list it.
PERSONAL: JsonDict = {"personal_data": True}


class WireModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Point(WireModel):
    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)


class Circle(Point):
    radius_km: Number = Field(gt=0, le=20000)


class Area(WireModel):
    """An incident's area: a circle, a polygon of [lon, lat] pairs, or (neither) the whole country."""

    country: CountryCode
    circle: Circle | None = None
    polygon: Annotated[list[tuple[Number, Number]] | None, Field(json_schema_extra={"minItems": 3})] = None

    @model_validator(mode="after")
    def _polygon_closed_enough(self) -> Area:
        if self.polygon is not None and len(self.polygon) < 3:
            raise ValueError("a polygon needs at least 3 points")
        return self
