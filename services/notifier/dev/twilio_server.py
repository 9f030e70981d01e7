"""A Twilio-compatible local server for development, tests and benchmarks (Twilio cannot be reached from here).

It speaks the part of the REST API the notifier uses, with Twilio's shapes:
- `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form body To, From, Body, StatusCallback; Basic auth)
  answers 201 with a Message resource (sid `SM...`, status `queued`) or Twilio's JSON error body;
- `GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json` and the list `.../Messages.json?To=&From=&DateSent>=`
  (the notifier looks a message up there before sending again after an ambiguous timeout);
- then, unless the request had no StatusCallback, status callbacks `sent` then `delivered` (or `undelivered` /
  `failed` with an ErrorCode) POSTed to StatusCallback, signed with X-Twilio-Signature exactly as Twilio does
  (`twilio.request_validator.RequestValidator`).

Failure switches (all also settable at run time with `PUT /_dev/config`):
- per number: `{"numbers": {"+32470000001": {"code": 21211}}}`; REST-time codes (21211, 21610, 21614, 21408, ...)
  answer 400 at once, delivery codes (30001-30008) are accepted then reported undelivered in the callback;
- magic numbers need no set-up: `+999<code>...` fails with that code, e.g. `+99921211001` (invalid number),
  `+99930003001` (unreachable handset);
- `{"numbers": {"+32...": {"http_status": 429, "times": 2}}}`: that number gets 429 (or 500/503) twice, then goes;
  with `"after_create": true` the message is created first and the error answered after (a 500 that sent it);
- `burst_429`: the next N requests, whatever the number, get 429 (code 20429);
- `{"outage": {"seconds": 900, "status": 503, "retry_after": "30"}}`: for that long every create (message or call)
  answers that status, with that `Retry-After` header when given (a provider outage); `{"outage": null}` ends it;
- `delay_seconds` (or per number `delay_seconds`): answer slowly; the message is created *before* the delay, so a
  client that times out has in fact sent it (the ambiguous case);
- `reverse_callbacks`: send `delivered` before `sent` (out-of-order callbacks); `callback_delay_seconds`.

To make an SMS to given numbers end `failed` or `undelivered` through the status callback (the fallback tests of
issue 23): `{"numbers": {"+32...": {"code": 30001}}}` (callback `failed`) or `{"code": 30003}` (`undelivered`).
`ValidityPeriod` (1 to 36000, else 400) is kept with the message as `_validity_period` (`GET /_dev/messages`).

Calls (the welfare check's last step): `POST .../Calls.json` (To, From, Twiml or Url, StatusCallback) answers 201
with a Call resource (sid `CA...`), `GET .../Calls.json?To=&From=&StartTime>=` and `GET .../Calls/{Sid}.json`. The
"person" then plays a script: a number with a `keypad` rule (`{"numbers": {"+32...": {"keypad": "1"}}}`, or the
server-wide `keypad`) picks up, the server reads the call's TwiML (inline, or fetched from Url with a signed POST),
POSTs the digits to its `<Gather action>` signed like Twilio, and reports `completed`; any other number does not
pick up (`no-answer`). Status callbacks carry CallSid and CallStatus.

Not Twilio (for people, tests and the README): `GET /_dev/messages[?to=]` lists what was "sent",
`GET /_dev/calls[?to=]` the calls with what was said and pressed,
`DELETE /_dev/messages` forgets it, `GET|PUT /_dev/config` reads or changes the switches, `GET /_dev/stats`.

Run: `python -m services.notifier.dev.twilio_server --port 8090` (account sid and token from TWILIO_ACCOUNT_SID and
TWILIO_AUTH_TOKEN, with local defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import logging
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from xml.etree import ElementTree

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from shared.sms import analyse

log = logging.getLogger("twilio_dev_server")

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "local-dev-auth-token"  # noqa: S105 (the local dev server only)
API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAGIC_PREFIX = "+999"

# Codes Twilio gives synchronously, as the REST answer to the POST.
REST_ERRORS: dict[int, tuple[int, str]] = {
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21408: (400, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21612: (400, "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number via SMS."),
    21614: (400, "'To' number {to} is not a valid mobile number"),
}
# Codes Twilio gives later, in the status callback of an accepted message (status `undelivered` or `failed`).
DELIVERY_ERRORS: dict[int, tuple[str, str]] = {
    30001: ("failed", "Queue overflow"),
    30002: ("failed", "Account suspended"),
    30003: ("undelivered", "Unreachable destination handset"),
    30004: ("undelivered", "Message blocked"),
    30005: ("undelivered", "Unknown destination handset"),
    30006: ("undelivered", "Landline or unreachable carrier"),
    30007: ("undelivered", "Carrier violation"),
    30008: ("undelivered", "Unknown error"),
}


def twilio_error(status: int, code: int, message: str) -> web.Response:
    """Twilio's legacy JSON error body, which twilio-python turns into TwilioRestException(status, code)."""
    return web.json_response(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
        status=status,
    )


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=False).replace("-0000", "+0000")


@dataclass
class NumberRule:
    code: int | None = None
    http_status: int | None = None
    times: int | None = None
    """How many requests the http_status applies to (None: all)."""
    delay_seconds: float | None = None
    reverse_callbacks: bool = False
    after_create: bool = False
    """With http_status: create the message first, then answer the error (a 500 whose message went out)."""
    keypad: str | None = None
    """A call to this number is picked up and these digits are pressed ("" picks up and presses nothing)."""

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> NumberRule:
        return cls(
            code=int(raw["code"]) if raw.get("code") is not None else None,
            http_status=int(raw["http_status"]) if raw.get("http_status") is not None else None,
            times=int(raw["times"]) if raw.get("times") is not None else None,
            delay_seconds=float(raw["delay_seconds"]) if raw.get("delay_seconds") is not None else None,
            reverse_callbacks=bool(raw.get("reverse_callbacks", False)),
            after_create=bool(raw.get("after_create", False)),
            keypad=str(raw["keypad"]) if raw.get("keypad") is not None else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ServerConfig:
    account_sid: str = DEFAULT_ACCOUNT_SID
    auth_token: str = DEFAULT_AUTH_TOKEN
    delay_seconds: float = 0.0
    callback_delay_seconds: float = 0.05
    callbacks: bool = True
    reverse_callbacks: bool = False
    burst_429: int = 0
    numbers: dict[str, NumberRule] = field(default_factory=dict)
    keep_bodies: bool = True
    keypad: str | None = None
    """Digits pressed on every call to a number without a rule of its own (None: nobody picks up)."""
    outage_until: float = 0.0
    outage_status: int = 503
    outage_retry_after: str | None = None

    def update(self, raw: Mapping[str, Any]) -> None:
        for name in ("delay_seconds", "callback_delay_seconds"):
            if name in raw:
                setattr(self, name, float(raw[name]))
        for name in ("callbacks", "reverse_callbacks", "keep_bodies"):
            if name in raw:
                setattr(self, name, bool(raw[name]))
        if "burst_429" in raw:
            self.burst_429 = int(raw["burst_429"])
        if "keypad" in raw:
            self.keypad = None if raw["keypad"] is None else str(raw["keypad"])
        if "outage" in raw:
            outage = raw["outage"] or {"seconds": 0}
            self.outage_until = time.monotonic() + float(outage.get("seconds", 0))
            self.outage_status = int(outage.get("status", 503))
            retry_after = outage.get("retry_after")
            self.outage_retry_after = None if retry_after is None else str(retry_after)
        if "numbers" in raw:
            if raw.get("replace_numbers", False):
                self.numbers = {}
            for number, rule in dict(raw["numbers"]).items():
                if rule is None:
                    self.numbers.pop(number, None)
                else:
                    self.numbers[number] = NumberRule.parse(rule)

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "delay_seconds": self.delay_seconds,
            "callback_delay_seconds": self.callback_delay_seconds,
            "callbacks": self.callbacks,
            "reverse_callbacks": self.reverse_callbacks,
            "burst_429": self.burst_429,
            "keep_bodies": self.keep_bodies,
            "keypad": self.keypad,
            "outage_seconds_left": max(self.outage_until - time.monotonic(), 0.0),
            "numbers": {n: r.as_dict() for n, r in self.numbers.items()},
        }


def magic_code(to: str) -> int | None:
    """`+999<code>...`: the code is the next five digits (21211, 21610, 30003, ...)."""
    if to.startswith(MAGIC_PREFIX) and len(to) >= len(MAGIC_PREFIX) + 5:
        digits = to[len(MAGIC_PREFIX): len(MAGIC_PREFIX) + 5]
        if digits.isdigit():
            return int(digits)
    return None


class TwilioDevServer:
    """The state (messages, switches) and the aiohttp handlers."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.messages: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, dict[str, Any]] = {}
        self.status_callbacks: dict[str, str] = {}
        self.stats = {"requests": 0, "created": 0, "rejected": 0, "throttled": 0, "callbacks_sent": 0,
                      "callbacks_failed": 0, "outage_refused": 0}
        self._http_failures_used: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._validator = RequestValidator(config.auth_token)

    # --- application -------------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        base = f"/{API_VERSION}/Accounts/{{account_sid}}"
        app.router.add_post(base + "/Messages.json", self.create_message)
        app.router.add_get(base + "/Messages.json", self.list_messages)
        app.router.add_get(base + "/Messages/{sid}.json", self.fetch_message)
        app.router.add_post(base + "/Calls.json", self.create_call)
        app.router.add_get(base + "/Calls.json", self.list_calls)
        app.router.add_get(base + "/Calls/{sid}.json", self.fetch_call)
        app.router.add_get("/_dev/calls", self.dev_calls)
        app.router.add_get("/_dev/messages", self.dev_messages)
        app.router.add_delete("/_dev/messages", self.dev_reset)
        app.router.add_get("/_dev/config", self.dev_config)
        app.router.add_put("/_dev/config", self.dev_set_config)
        app.router.add_get("/_dev/stats", self.dev_stats)
        app.router.add_get("/healthz", self.healthz)
        app.on_startup.append(self._startup)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _startup(self, _app: web.Application) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def _cleanup(self, _app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # --- auth --------------------------------------------------------------------------------------------------
    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (
            secrets.compare_digest(user, self.config.account_sid)
            and secrets.compare_digest(password, self.config.auth_token)
            and request.match_info["account_sid"] == self.config.account_sid
        )

    @staticmethod
    def _auth_error() -> web.Response:
        return twilio_error(401, 20003, "Authenticate")

    # --- the Messages resource ---------------------------------------------------------------------------------
    def _uri(self, sid: str) -> str:
        return f"/{API_VERSION}/Accounts/{self.config.account_sid}/Messages/{sid}.json"

    def _resource(self, record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if not k.startswith("_")}

    def _outage(self) -> web.Response:
        self.stats["outage_refused"] += 1
        response = twilio_error(self.config.outage_status, 20503 if self.config.outage_status == 503 else 20429,
                                "Service Unavailable" if self.config.outage_status == 503 else "Too Many Requests")
        if self.config.outage_retry_after is not None:
            response.headers["Retry-After"] = self.config.outage_retry_after
        return response

    def _refused(self, request: web.Request) -> web.Response | None:
        """A create request counted, then refused when it is not authorised or an outage is on (None: go on)."""
        self.stats["requests"] += 1
        if not self._authorised(request):
            return self._auth_error()
        if time.monotonic() < self.config.outage_until:
            return self._outage()
        return None

    def _fetch(self, request: web.Request, resources: Mapping[str, dict[str, Any]]) -> web.Response:
        """One resource by its sid (a Message or a Call), as Twilio answers it."""
        if not self._authorised(request):
            return self._auth_error()
        record = resources.get(request.match_info["sid"])
        if record is None:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        return web.json_response(self._resource(record))

    async def create_message(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        form = await request.post()
        to = str(form.get("To", "")).strip()
        from_ = str(form.get("From", "")).strip()
        body = str(form.get("Body", ""))
        callback = str(form.get("StatusCallback", "")).strip()
        invalid = _invalid_message(form, to=to, from_=from_, body=body)
        if invalid is not None:
            return invalid

        rule = self.config.numbers.get(to)
        if self.config.burst_429 > 0:
            self.config.burst_429 -= 1
            self.stats["throttled"] += 1
            return twilio_error(429, 20429, "Too Many Requests")
        fail_after_create: int | None = None
        if rule is not None and rule.http_status is not None and self._use_http_failure(to, rule):
            if rule.after_create:
                fail_after_create = rule.http_status
            else:
                self.stats["throttled"] += 1
                if rule.http_status == 429:
                    return twilio_error(429, 20429, "Too Many Requests")
                return twilio_error(rule.http_status, 20500, "An internal server error has occurred")

        code = rule.code if rule is not None and rule.code is not None else magic_code(to)
        if code is None and not E164.match(to):
            code = 21211
        if code is not None and code in REST_ERRORS:
            status, template = REST_ERRORS[code]
            self.stats["rejected"] += 1
            return twilio_error(status, code, template.format(to=to))

        record = self._message_record(form, to=to, from_=from_, body=body, code=code)
        sid = record["sid"]
        self.messages[sid] = record
        self.stats["created"] += 1
        answer = self._resource(record)  # the resource as it was when created: status queued
        if callback and self.config.callbacks:
            reverse = self.config.reverse_callbacks or (rule is not None and rule.reverse_callbacks)
            self._spawn(self._deliver(sid, callback, reverse))
        delay = rule.delay_seconds if rule is not None and rule.delay_seconds is not None else self.config.delay_seconds
        if delay > 0:
            await asyncio.sleep(delay)
        if fail_after_create is not None:
            self.stats["throttled"] += 1
            return twilio_error(fail_after_create, 20500, "An internal server error has occurred")
        return web.json_response(answer, status=201)

    def _use_http_failure(self, to: str, rule: NumberRule) -> bool:
        """Whether the number's `http_status` applies to this request (it does `rule.times` times); counts it."""
        used = self._http_failures_used.get(to, 0)
        if rule.times is None or used < rule.times:
            self._http_failures_used[to] = used + 1
            return True
        return False

    def _message_record(self, form: Mapping[str, Any], *, to: str, from_: str, body: str,
                        code: int | None) -> dict[str, Any]:
        """A new Message resource, status queued; the `_` fields are the server's own (not in Twilio's answer)."""
        now = datetime.now(UTC)
        sid = "SM" + secrets.token_hex(16)
        info = analyse(body)
        return {
            "account_sid": self.config.account_sid,
            "api_version": API_VERSION,
            "body": body if self.config.keep_bodies else "",
            "date_created": rfc2822(now),
            "date_sent": None,
            "date_updated": rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_ or None,
            "messaging_service_sid": form.get("MessagingServiceSid") or None,
            "num_media": "0",
            "num_segments": str(info.segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": self._uri(sid).replace(".json", "/Media.json")},
            "to": to,
            "uri": self._uri(sid),
            "_created": now,
            "_encoding": info.encoding.value,
            "_delivery_code": code if code in DELIVERY_ERRORS else None,
            "_validity_period": int(str(form["ValidityPeriod"])) if form.get("ValidityPeriod") else None,
        }

    async def fetch_message(self, request: web.Request) -> web.Response:
        return self._fetch(request, self.messages)

    async def list_messages(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._auth_error()
        query = request.query
        to, from_ = query.get("To"), query.get("From")
        after = _parse_date(query.get("DateSent>"))
        before = _parse_date(query.get("DateSent<"))
        page_size = max(1, min(int(query.get("PageSize", "50")), 1000))
        page = max(0, int(query.get("Page", "0")))
        found = [
            r for r in reversed(self.messages.values())  # Twilio lists newest first
            if (to is None or r["to"] == to) and (from_ is None or r["from"] == from_)
            and (after is None or r["_created"] >= after) and (before is None or r["_created"] < before)
        ]
        chunk = found[page * page_size:(page + 1) * page_size]
        path = f"/{API_VERSION}/Accounts/{self.config.account_sid}/Messages.json"
        has_next = (page + 1) * page_size < len(found)
        return web.json_response({
            "messages": [self._resource(r) for r in chunk],
            "end": page * page_size + max(len(chunk) - 1, 0),
            "first_page_uri": f"{path}?PageSize={page_size}&Page=0",
            "next_page_uri": f"{path}?PageSize={page_size}&Page={page + 1}" if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": f"{path}?PageSize={page_size}&Page={page - 1}" if page > 0 else None,
            "start": page * page_size,
            "uri": f"{path}?PageSize={page_size}&Page={page}",
        })

    # --- the Calls resource ------------------------------------------------------------------------------------
    async def create_call(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        form = await request.post()
        to, from_ = str(form.get("To", "")).strip(), str(form.get("From", "")).strip()
        twiml, url = str(form.get("Twiml", "")), str(form.get("Url", "")).strip()
        if not to:
            return twilio_error(400, 21201, "No 'To' number is specified")
        if not from_:
            return twilio_error(400, 21213, "No 'From' number is specified")
        if not twiml and not url:
            return twilio_error(400, 21205, "Url or Twiml is required")
        if not E164.match(to):
            return twilio_error(400, 21217, f"Phone number {to} is not a valid phone number.")
        rule = self.config.numbers.get(to)
        if rule is not None and rule.http_status is not None and self._use_http_failure(to, rule):
            self.stats["throttled"] += 1
            return twilio_error(rule.http_status, 20500, "An internal server error has occurred")
        now = datetime.now(UTC)
        sid = "CA" + secrets.token_hex(16)
        record: dict[str, Any] = {
            "account_sid": self.config.account_sid, "api_version": API_VERSION, "date_created": rfc2822(now),
            "date_updated": rfc2822(now), "direction": "outbound-api", "duration": None, "from": from_,
            "sid": sid, "start_time": None, "status": "queued", "to": to,
            "uri": f"/{API_VERSION}/Accounts/{self.config.account_sid}/Calls/{sid}.json",
            "_created": now, "_said": [], "_pressed": None, "_answer": None,
        }
        self.calls[sid] = record
        self.stats["created"] += 1
        keypad = rule.keypad if rule is not None and rule.keypad is not None else self.config.keypad
        self._spawn(self._play_call(sid, twiml=twiml, url=url, keypad=keypad,
                                    callback=str(form.get("StatusCallback", "")).strip()))
        return web.json_response(self._resource(record), status=201)

    async def _play_call(self, sid: str, *, twiml: str, url: str, keypad: str | None, callback: str) -> None:
        """Ring, then either nobody picks up, or the script is played: read the TwiML, press the digits."""
        record = self.calls[sid]
        await asyncio.sleep(self.config.callback_delay_seconds)
        params = {"AccountSid": self.config.account_sid, "ApiVersion": API_VERSION, "CallSid": sid,
                  "Direction": "outbound-api", "From": record["from"], "To": record["to"]}
        if keypad is None:
            record.update(status="no-answer", date_updated=rfc2822(datetime.now(UTC)))
        else:
            record.update(status="in-progress", start_time=rfc2822(datetime.now(UTC)))
            answered = {**params, "CallStatus": "in-progress"}
            document = twiml or await self._post_form(url, answered)
            gather = _gather(document, record)
            if gather is not None and keypad:
                record["_pressed"] = keypad
                record["_answer"] = await self._post_form(gather, {**answered, "Digits": keypad})
            record.update(status="completed", duration="20", date_updated=rfc2822(datetime.now(UTC)))
        if callback:
            extra = {"CallDuration": record["duration"]} if record["duration"] else {}
            await self._post_form(callback, {**params, "CallStatus": record["status"], **extra})

    async def _post_form(self, url: str, params: Mapping[str, str]) -> str:
        """POST as Twilio does (signed); the answer's text ('' when the webhook fails)."""
        assert self._session is not None
        try:
            async with self._session.post(url, data=dict(params), headers=self.signed_callback(url, params)) as resp:
                text = await resp.text()
                self.stats["callbacks_sent" if resp.status < 500 else "callbacks_failed"] += 1
                return text if resp.status < 400 else ""
        except (TimeoutError, aiohttp.ClientError):
            self.stats["callbacks_failed"] += 1
            return ""

    async def fetch_call(self, request: web.Request) -> web.Response:
        return self._fetch(request, self.calls)

    async def list_calls(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._auth_error()
        query = request.query
        to, from_ = query.get("To"), query.get("From")
        after = _parse_date(query.get("StartTime>"))
        found = [self._resource(r) for r in reversed(self.calls.values())
                 if (to is None or r["to"] == to) and (from_ is None or r["from"] == from_)
                 and (after is None or r["_created"] >= after)]
        path = f"/{API_VERSION}/Accounts/{self.config.account_sid}/Calls.json"
        return web.json_response({"calls": found[:1000], "end": max(len(found) - 1, 0), "page": 0,
                                  "page_size": 1000, "start": 0, "next_page_uri": None, "previous_page_uri": None,
                                  "first_page_uri": f"{path}?Page=0", "uri": f"{path}?Page=0"})

    async def dev_calls(self, request: web.Request) -> web.Response:
        to = request.query.get("to")
        found = [self._resource(r) | {"said": r["_said"], "pressed": r["_pressed"], "answer": r["_answer"]}
                 for r in self.calls.values() if to is None or r["to"] == to]
        return web.json_response({"count": len(found), "calls": found})

    # --- status callbacks --------------------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _final_state(self, record: dict[str, Any]) -> tuple[str, int | None]:
        code = record["_delivery_code"]
        if code is None:
            return "delivered", None
        return DELIVERY_ERRORS[code][0], code

    async def _deliver(self, sid: str, url: str, reverse: bool) -> None:
        record = self.messages[sid]
        final, code = self._final_state(record)
        steps: list[tuple[str, int | None]] = [("sent", None), (final, code)]
        if final == "failed":  # Twilio's `failed` means it never left: no `sent` before it
            steps = [(final, code)]
        if reverse:
            steps.reverse()
        if self.config.callback_delay_seconds > 0:
            await asyncio.sleep(self.config.callback_delay_seconds)
        # The resource itself always ends in its real final state, whatever order the callbacks go in.
        now = rfc2822(datetime.now(UTC))
        record.update(status=final, date_updated=now, date_sent=now, error_code=code,
                      error_message=DELIVERY_ERRORS[code][1] if code else None)
        for status, err in steps:
            await self._post_callback(url, record, status, err)

    def signed_callback(self, url: str, params: Mapping[str, str]) -> dict[str, str]:
        """The headers Twilio would send with these form parameters to this URL."""
        return {"X-Twilio-Signature": self._validator.compute_signature(url, dict(params))}

    async def _post_callback(self, url: str, record: dict[str, Any], status: str, code: int | None) -> None:
        params = {
            "AccountSid": self.config.account_sid,
            "ApiVersion": API_VERSION,
            "From": record["from"] or "",
            "MessageSid": record["sid"],
            "MessageStatus": status,
            "SmsSid": record["sid"],
            "SmsStatus": status,
            "To": record["to"],
        }
        if code is not None:
            params["ErrorCode"] = str(code)
        assert self._session is not None
        for attempt in range(3):
            try:
                async with self._session.post(url, data=params, headers=self.signed_callback(url, params)) as resp:
                    await resp.read()
                    if resp.status < 500:
                        self.stats["callbacks_sent"] += 1
                        return
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(0.2 * (attempt + 1))
        self.stats["callbacks_failed"] += 1

    # --- development endpoints ---------------------------------------------------------------------------------
    async def dev_messages(self, request: web.Request) -> web.Response:
        to = request.query.get("to")
        limit = int(request.query.get("limit", "0") or 0)
        found = [self._resource(r) | {"encoding": r["_encoding"], "validity_period": r.get("_validity_period")}
                 for r in self.messages.values() if to is None or r["to"] == to]
        if limit > 0:
            found = found[-limit:]
        return web.json_response({"count": len(found), "messages": found})

    async def dev_reset(self, _request: web.Request) -> web.Response:
        self.messages.clear()
        self.calls.clear()
        self._http_failures_used.clear()
        for key in self.stats:
            self.stats[key] = 0
        return web.json_response({"ok": True})

    async def dev_config(self, _request: web.Request) -> web.Response:
        return web.json_response(self.config.as_dict())

    async def dev_set_config(self, request: web.Request) -> web.Response:
        try:
            raw = await request.json()
            if not isinstance(raw, dict):
                raise ValueError("a JSON object is expected")
            self.config.update(raw)
            if "numbers" in raw:
                for number in dict(raw["numbers"]):
                    self._http_failures_used.pop(number, None)
        except (ValueError, TypeError, KeyError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.config.as_dict())

    async def dev_stats(self, _request: web.Request) -> web.Response:
        created = [r["_created"] for r in self.messages.values()]
        window = {}
        if created:
            first, last = min(created), max(created)
            window = {"first_created": first.isoformat(), "last_created": last.isoformat(),
                      "window_seconds": (last - first).total_seconds()}
        return web.json_response(self.stats | window | {"messages": len(self.messages),
                                                        "pending_callbacks": len(self._tasks)})

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


def _invalid_message(form: Mapping[str, Any], *, to: str, from_: str, body: str) -> web.Response | None:
    """Twilio's 400 for a message request it refuses as such (whatever the number's rules), else None."""
    if not to:
        return twilio_error(400, 21604, "A 'To' phone number is required.")
    if not from_ and not form.get("MessagingServiceSid"):
        return twilio_error(400, 21603, "A 'From' phone number is required.")
    if not body:
        return twilio_error(400, 21602, "Message body is required.")
    if len(body) > 1600:
        return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    validity = str(form.get("ValidityPeriod", "")).strip()
    if validity and not (validity.isdigit() and 1 <= int(validity) <= 36000):
        return twilio_error(400, 21624, "ValidityPeriod must be an integer from 1 to 36000.")
    return None


def _gather(document: str, record: dict[str, Any]) -> str | None:
    """The `<Gather action>` of a TwiML document, noting what it says; None when it gathers nothing."""
    try:
        root = ElementTree.fromstring(document)  # noqa: S314 (TwiML of our own services, local dev server only)
    except ElementTree.ParseError:
        return None
    record["_said"] += [(say.get("language"), (say.text or "").strip()) for say in root.iter("Say")]
    gather = root.find(".//Gather")
    return gather.get("action") if gather is not None else None


def _parse_date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = datetime.fromisoformat(raw + "T00:00:00+00:00")
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_app(config: ServerConfig | None = None) -> tuple[web.Application, TwilioDevServer]:
    server = TwilioDevServer(config or ServerConfig())
    return server.app(), server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--account-sid", default=os.environ.get("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID))
    parser.add_argument("--auth-token", default=os.environ.get("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN))
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer (slow answers)")
    parser.add_argument("--callback-delay", type=float, default=0.05)
    parser.add_argument("--no-callbacks", action="store_true")
    parser.add_argument("--reverse-callbacks", action="store_true", help="delivered before sent")
    parser.add_argument("--burst-429", type=int, default=0, help="answer 429 to the next N requests")
    parser.add_argument("--fail", action="append", default=[], metavar="NUMBER=CODE",
                        help="fail this number with this Twilio error code (repeatable)")
    args = parser.parse_args(argv)
    config = ServerConfig(
        account_sid=args.account_sid, auth_token=args.auth_token, delay_seconds=args.delay,
        callback_delay_seconds=args.callback_delay, callbacks=not args.no_callbacks,
        reverse_callbacks=args.reverse_callbacks, burst_429=args.burst_429,
    )
    for item in args.fail:
        number, _, code = item.partition("=")
        config.numbers[number.strip()] = NumberRule(code=int(code))
    logging.basicConfig(level=logging.WARNING)
    app, _ = build_app(config)
    print(f"Twilio dev server on http://{args.host}:{args.port} (account {config.account_sid}); "
          f"sent messages: GET /_dev/messages", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
