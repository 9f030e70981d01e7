"""Topics `notifications.status` (contract, key notification_id) and `notifications.commands` (internal).

`SendNotification` is a command (imperative): intake and crisis_center ask the notifier to send one message.
Its `notification_id` is derived from purpose, channel and recipient (`notification_id_for`), so a sender that
retries produces the same id, and the notifier's unique key on it makes a second send impossible.

Its `template` names one of the templates (`shared/notifications/templates/<lang>/<template>.j2`) and its
`params` are exactly what that template reads, checked against the template's model in `TEMPLATE_PARAMS` when the
command is built (a sender gets a ValueError) and when it is read (the notifier dead-letters it): a missing or
ill-typed parameter never reaches the renderer. tests/shared/test_notification_templates.py renders every template of
every language with its model's minimal parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar, Literal, cast

from pydantic import (
    AwareDatetime,
    EmailStr,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticSerializationError, from_json, to_json

from shared.events.common import E164, PERSONAL, Integer, Language, WireModel
from shared.events.deadlines import DeadlineKind
from shared.events.envelope import EventData, describe_validation_error

STATUS_TOPIC = "notifications.status"
COMMANDS_TOPIC = "notifications.commands"

NotificationChannel = Literal["sms", "email", "voice"]  # voice (a call) added by issue 17: welfare checks
# throttled, expired, deduplicated added by issue 23 (provider limits): additive, see docs/notifier.md
DeliveryStatus = Literal["queued", "sent", "delivered", "failed", "undeliverable", "opted_out", "throttled", "expired",
                         "deduplicated"]
Priority = Literal["crisis", "case", "bulk"]
_NAMESPACE = uuid.UUID("6f1c2a53-8d0e-4d7b-9a43-3c1f0e5b7a11")


def notification_id_for(purpose: str, channel: str, recipient: str) -> str:
    """The same purpose, channel and recipient always give the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"{purpose}|{channel}|{recipient}"))


class OfficerCard(WireModel):
    """Who handles the case: carried by every message about a case."""

    name: str
    role: str
    phone: str
    email: str


class Recipient(WireModel):
    name: str | None = Field(default=None, json_schema_extra=PERSONAL)
    phone: E164 | None = Field(default=None, json_schema_extra=PERSONAL)
    email: EmailStr | None = Field(default=None, json_schema_extra=PERSONAL)
    traveller_id: str | None = None


# --- template parameters: one model per template ---------------------------------------------------------------
# Optional fields are the ones a template reads under `{% if x is defined and x %}`; None is left out of the wire.


def _channel(info: ValidationInfo) -> str | None:
    """The channel the params are checked for (`template_params`' context), when known."""
    return info.context.get("channel") if isinstance(info.context, Mapping) else None


class CaseAcknowledgementParams(WireModel):
    """`case_acknowledgement`: the case is registered (intake), with its reply date."""

    reference: str = Field(min_length=1, max_length=40, description="the case reference, e.g. BE-2026-000123")
    officer: OfficerCard = Field(description="who handles the case")
    reply_due_by: date = Field(description="the last day of the reply")
    provisional_reply_due_by: date | None = Field(default=None, description=(
        "a complex case's provisional reply date; the message then says the case is complex"))


class CaseMessageParams(WireModel):
    """`case_message`: an officer's own words about a case (a reply), sent as written."""

    reference: str = Field(min_length=1, max_length=40)
    message: str = Field(min_length=1, json_schema_extra=PERSONAL, description="the text as written, sent as is")
    officer: OfficerCard | None = Field(default=None, description=(
        "who handles the case; the SMS names them unless the message holds their e-mail address already"))


class CaseProvisionalReplyParams(WireModel):
    """`case_provisional_reply`: a complex case's reply will come later, by the day it names (intake)."""

    reference: str = Field(min_length=1, max_length=40)
    officer: OfficerCard = Field(description="who handles the case")
    reply_due_by: date = Field(description="the day (Brussels) by which the reply will come")
    message: str | None = Field(default=None, min_length=1, json_schema_extra=PERSONAL, description=(
        "the officer's own words, put before the announcement"))


class CaseForwardNoticeParams(WireModel):
    """`case_forward_notice`: the request is for another service, to whom it was forwarded (intake)."""

    reference: str = Field(min_length=1, max_length=40)
    officer: OfficerCard = Field(description="who handles the case")
    service: str = Field(min_length=1, max_length=200, description="the competent service, as the officer named it")


class CaseFamilySafeNoticeParams(WireModel):
    """`case_family_safe_notice`: the agreed wording telling a family that the person they seek answered safe
    (issue 18); it never says where the person is (theirs to tell)."""

    reference: str = Field(min_length=1, max_length=40)
    officer: OfficerCard = Field(description="who handles the case")
    sought_name: str = Field(min_length=1, max_length=200, json_schema_extra=PERSONAL,
                             description="the sought person's name, as the family gave it")
    answered_safe_on: date = Field(description="the day (Brussels) the person answered safe")


class CaseForwardedRequestParams(WireModel):
    """`case_forwarded_request`: the request itself, by e-mail to the competent service's address (intake), in the
    citizen's language."""

    reference: str = Field(min_length=1, max_length=40)
    officer: OfficerCard = Field(description="who handled the case")
    citizen_language: Language
    contact: str | None = Field(default=None, min_length=1, json_schema_extra=PERSONAL,
                                description="how to reach the citizen (name, phone, e-mail, address)")
    description: str = Field(min_length=1, json_schema_extra=PERSONAL, description="the request as received")


class SurveyRequestParams(WireModel):
    """`survey_request`: the satisfaction survey once a case is closed: by SMS a question answered 1-5 (the answer
    comes back to intake), by e-mail the person's link to the survey page."""

    EMAIL_NEEDS: ClassVar[tuple[str, ...]] = ("survey_url",)
    """Optional by SMS (the question is answered by SMS), needed by e-mail."""

    reference: str = Field(min_length=1, max_length=40)
    survey_url: str | None = Field(default=None, min_length=1, json_schema_extra=PERSONAL,
                                   description="the person's own survey link; an e-mail needs it")
    officer: OfficerCard | None = Field(default=None, description="who handled the case; the SMS names them")

    @model_validator(mode="after")
    def _link_by_email(self, info: ValidationInfo) -> SurveyRequestParams:
        if _channel(info) == "email" and self.survey_url is None:
            raise ValueError("an e-mail needs survey_url")
        return self


class StaffDeadlineParams(WireModel):
    """`staff_deadline`: a charter deadline of a case is approaching or missed (to its officer, by e-mail)."""

    reference: str = Field(min_length=1, max_length=40)
    kind: str = Field(min_length=1, max_length=40, description="the case's kind (request, complaint, ...)")
    deadline: DeadlineKind
    event: Literal["approaching", "missed"]
    due_by: AwareDatetime
    officer: OfficerCard
    console_url: str = Field(min_length=1)


class CrisisParams(WireModel):
    """What every message about a crisis reads."""

    crisis_title: str = Field(min_length=1, max_length=300)
    exercise: bool = Field(default=False, description="an exercise: the message says so first, in four languages")


class CrisisAlertParams(CrisisParams):
    """`crisis_alert`: a crisis is opened, what to do (crisis_center)."""

    hotline_number: E164
    instructions: str | None = Field(default=None, description="the crisis's own instructions, in the language")


class CrisisUpdateParams(CrisisParams):
    """`crisis_update`: news about a crisis (no sender today; kept for the console's updates)."""

    hotline_number: E164
    update: str | None = None


class CrisisClosedParams(CrisisParams):
    """`crisis_closed`: the all-clear; the hotline is closed, so none is given."""


class CrisisFollowupParams(CrisisParams):
    """`crisis_followup`: a coordinator's approved follow-up; the SMS is `message` as written."""

    hotline_number: E164
    message: str = Field(min_length=1)


class CrisisProposalParams(CrisisParams):
    """`crisis_proposal`: a proposal to open a crisis waits for a coordinator (to the on-call coordinator)."""

    affected_count: Integer = Field(ge=0, description="Belgians inside the area")
    threshold: Integer = Field(ge=0)
    minutes: Integer = Field(ge=0, description="how long the proposal has waited")
    dashboard_url: str = Field(min_length=1)


class CheckInCodeParams(CrisisParams):
    """`check_in_code`: the one-time code confirming a check-in's phone or e-mail."""

    code: str = Field(min_length=1, max_length=20, json_schema_extra=PERSONAL)
    minutes: Integer = Field(ge=1, description="how long the code is valid")


class WelfareCallParams(CrisisParams):
    """`welfare_call`: the welfare question said on a call (press 1 or 2)."""

    hotline_number: E164


class WelfareQuestionParams(CrisisParams):
    """`welfare_question`: are you safe? By SMS (answered 1 or 2) or by e-mail with two answer links."""

    EMAIL_NEEDS: ClassVar[tuple[str, ...]] = ("safe_url", "help_url")
    """Optional by SMS, needed by e-mail (its text and html read them)."""

    hotline_number: E164
    reminder: bool = Field(description="the second asking")
    safe_url: str | None = Field(default=None, min_length=1, json_schema_extra=PERSONAL,
                                 description="the person's 'I am safe' link; an e-mail needs it")
    help_url: str | None = Field(default=None, min_length=1, json_schema_extra=PERSONAL,
                                 description="the person's 'I need help' link; an e-mail needs it")

    @model_validator(mode="after")
    def _links_by_email(self, info: ValidationInfo) -> WelfareQuestionParams:
        if _channel(info) == "email" and any(getattr(self, name) is None for name in self.EMAIL_NEEDS):
            raise ValueError(f"an e-mail needs {' and '.join(self.EMAIL_NEEDS)}")
        return self


#: Each template's parameters (keys: the files in shared/notifications/templates/en, without `.j2`).
TEMPLATE_PARAMS: Mapping[str, type[WireModel]] = {
    "case_acknowledgement": CaseAcknowledgementParams,
    "case_message": CaseMessageParams,
    "case_provisional_reply": CaseProvisionalReplyParams,
    "case_forward_notice": CaseForwardNoticeParams,
    "case_family_safe_notice": CaseFamilySafeNoticeParams,
    "case_forwarded_request": CaseForwardedRequestParams,
    "survey_request": SurveyRequestParams,
    "staff_deadline": StaffDeadlineParams,
    "crisis_alert": CrisisAlertParams,
    "crisis_update": CrisisUpdateParams,
    "crisis_closed": CrisisClosedParams,
    "crisis_followup": CrisisFollowupParams,
    "crisis_proposal": CrisisProposalParams,
    "check_in_code": CheckInCodeParams,
    "welfare_call": WelfareCallParams,
    "welfare_question": WelfareQuestionParams,
}


#: Parameters already checked, as JSON, by template, channel and the JSON given: a fan-out sends one alert's
#: parameters to thousands, and checking them is a third of a command's validation. Emptied when full.
_CHECKED_PARAMS: dict[tuple[str, str | None, bytes], bytes] = {}
_CHECKED_PARAMS_MAX = 4096


def template_params(template: str, params: Mapping[str, Any], channel: str | None = None) -> dict[str, Any]:
    """`params` checked against `template`'s model, as JSON (None and defaults left out, unknown keys dropped);
    ValueError naming the template and the fields when they do not fit. The check depends on nothing else, so
    parameters with the same JSON are checked once (a fresh copy each time: callers may change theirs)."""
    model = TEMPLATE_PARAMS.get(template)
    if model is None:
        raise ValueError(f"unknown template {template!r}")
    try:
        key: tuple[str, str | None, bytes] | None = (template, channel, to_json(params))
    except PydanticSerializationError:  # not JSON at all: the model says what is wrong
        key = None
    if key is not None and (known := _CHECKED_PARAMS.get(key)) is not None:
        return cast(dict[str, Any], from_json(known))
    try:
        checked = model.model_validate(params, context={"channel": channel})
    except ValidationError as exc:
        raise ValueError(f"params of template {template!r}: {describe_validation_error(exc)}") from exc
    result = checked.model_dump(mode="json", exclude_defaults=True)
    if key is not None:
        if len(_CHECKED_PARAMS) >= _CHECKED_PARAMS_MAX:
            _CHECKED_PARAMS.clear()
        _CHECKED_PARAMS[key] = to_json(result)
    return result


class SendNotification(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.notification.send"
    TOPIC: ClassVar[str] = COMMANDS_TOPIC
    KEY_FIELD: ClassVar[str] = "notification_id"

    notification_id: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=300, description="e.g. 'case:BE-2026-000123:ack'")
    channel: NotificationChannel
    recipient: Recipient
    language: Language
    template: str = Field(min_length=1, max_length=100, description="the notifier's template, a key of TEMPLATE_PARAMS",
                          json_schema_extra={"enum": list[JsonValue](sorted(TEMPLATE_PARAMS))})
    params: dict[str, Any] = Field(
        default_factory=dict, validate_default=True, json_schema_extra=PERSONAL,
        description="what the template reads, as its model in TEMPLATE_PARAMS (shared/events/notifications.py) states")
    priority: Priority = "bulk"
    case_reference: str | None = None
    crisis_id: str | None = None
    officer: OfficerCard | None = None
    sender: Literal["notifier", "duty_line"] = Field(default="notifier", description=(
        "Which of our numbers an SMS comes from: the notifier's own, or the duty line's, whose replies reach "
        "intake (a welfare question, whose answer comes back by SMS)."))

    @field_validator("params")
    @classmethod
    def _params_fit_template(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """The template's model checks the params (template and channel are validated before them)."""
        if "template" not in info.data:
            return params  # the template itself is wrong: that error is reported
        return template_params(info.data["template"], params, info.data.get("channel"))

    @field_validator("template")
    @classmethod
    def _known_template(cls, template: str) -> str:
        if template not in TEMPLATE_PARAMS:
            raise ValueError(f"unknown template {template!r}; known: {', '.join(sorted(TEMPLATE_PARAMS))}")
        return template

    @model_validator(mode="after")
    def _address_for_channel(self) -> SendNotification:
        if self.channel in ("sms", "voice") and self.recipient.phone is None:
            raise ValueError(f"{'an sms' if self.channel == 'sms' else 'a call'} needs recipient.phone")
        if self.channel == "email" and self.recipient.email is None:
            raise ValueError("an email needs recipient.email")
        if self.case_reference is None and self.crisis_id is None:
            raise ValueError("a notification belongs to a case_reference or a crisis_id")
        return self


class SmsPreference(EventData):
    """A command: a number answered STOP (or START) to a number of ours that is not the notifier's own sender (the
    duty line, read by intake). The notifier stops (or resumes) non-urgent SMS to it, as for its own inbound STOP."""

    TYPE: ClassVar[str] = "be.diplomatie.notification.sms_preference"
    TOPIC: ClassVar[str] = COMMANDS_TOPIC
    KEY_FIELD: ClassVar[str] = "phone"

    phone: E164 = Field(json_schema_extra=PERSONAL)
    opted_out: bool = Field(description="true: STOP and its siblings; false: START and its siblings")
    keyword: str = Field(min_length=1, max_length=40, description="the word as received, upper case, no accents")
    at: AwareDatetime


class NotificationStatus(EventData):
    TYPE: ClassVar[str] = "be.diplomatie.notification.status"
    TOPIC: ClassVar[str] = STATUS_TOPIC
    KEY_FIELD: ClassVar[str] = "notification_id"

    notification_id: str = Field(min_length=1, max_length=200)
    channel: NotificationChannel
    status: DeliveryStatus
    reason: str | None = None
    at: AwareDatetime
    case_reference: str | None = None
    crisis_id: str | None = None
