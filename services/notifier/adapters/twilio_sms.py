"""SMS and calls through the real `twilio` library and its async HTTP client, pointed at TWILIO_API_BASE."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus

import aiohttp
from twilio.base import values
from twilio.base.exceptions import TwilioException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from services.notifier.adapters.providers import Ambiguous, Rejected, Transient
from services.notifier.domain.breaker import parse_retry_after
from services.notifier.domain.delivery import DeliveryStatus, Observation, from_error_code
from services.notifier.domain.policy import is_retryable_http

#: Server errors after which the message may exist at Twilio (503 and 429 mean the request was not processed).
AMBIGUOUS_HTTP = frozenset({500, 502, 504})


def _form(data: dict[str, object]) -> str:
    """The form urlencoded as `urlencode(data, doseq=True)` does it, each value but the number quoted once per
    distinct text: a fan-out sends the same body, sender and callback to thousands of numbers (the number, new each
    time, would only push them out of the cache)."""
    return "&".join(f"{_quoted(name)}={quote_plus(text) if name == 'To' else _quoted(text)}"
                    for name, text in _pairs(data))


@lru_cache(maxsize=1024)
def _quoted(text: str) -> str:
    return quote_plus(text)


def _pairs(params: dict[str, object]) -> list[tuple[str, str]]:
    """A query as (name, text) pairs, a list value repeated (as `urlencode(doseq=True)` does): what yarl takes."""
    return [(name, str(item)) for name, value in params.items()
            for item in (value if isinstance(value, list | tuple) else (value,))]


class _LeanHttpClient(AsyncHttpClient):
    """twilio-python's HTTP client interface on one aiohttp session, built for thousands of requests a second.

    The library's own async client hands the form as a dict to aiohttp, whose FormData builds a multipart writer
    (with a random boundary) for every request before settling on urlencoding; it also builds BasicAuth and
    records each request and response for tests. Here the form is urlencoded once (the same bytes, `doseq` as
    aiohttp does), the Authorization header is computed once per credentials, and nothing is kept. It remembers
    the `Retry-After` of the last 429 or 503 (the library's exception does not carry headers); one value for the
    whole client: a provider-wide answer is about the provider."""

    def __init__(self, session: aiohttp.ClientSession, logger: logging.Logger) -> None:
        super().__init__(logger=logger, is_async=True)
        self.session = session
        self.retry_after: str | None = None
        self._authorization: tuple[tuple[str, str], str] | None = None

    async def request(self, method: str, url: str, params: dict[str, object] | None = None,
                      data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                      auth: tuple[str, str] | None = None,
                      timeout: float | None = None,  # noqa: ASYNC109 (the library's interface)
                      allow_redirects: bool = False) -> Response:
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        sent_headers = dict(headers or {})
        if auth is not None:
            sent_headers["Authorization"] = self._basic(auth)
        body = None
        if data:
            body = _form(data)
            sent_headers["Content-Type"] = "application/x-www-form-urlencoded"
        options: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=timeout)} if timeout is not None else {}
        async with self.session.request(method.upper(), url, params=_pairs(params) if params else None, data=body,
                                        headers=sent_headers, allow_redirects=allow_redirects, **options) as answer:
            text = await answer.text()
        if answer.status in (429, 503):
            self.retry_after = answer.headers.get("Retry-After")
        return Response(answer.status, text, answer.headers)

    def _basic(self, auth: tuple[str, str]) -> str:
        if self._authorization is None or self._authorization[0] != auth:
            self._authorization = (auth, aiohttp.encode_basic_auth(auth[0], auth[1]))
        return self._authorization[1]

    def take_retry_after(self) -> float | None:
        value, self.retry_after = self.retry_after, None
        return parse_retry_after(value, now_epoch=time.time())

    async def close(self) -> None:
        await self.session.close()


class TwilioSms:
    """Create in an async context (the aiohttp session binds to the running loop); `close()` when done."""

    def __init__(self, *, account_sid: str, auth_token: str, api_base: str, from_number: str, timeout: float,
                 pool_size: int = 100) -> None:
        self.from_number = from_number
        self.timeout = timeout
        # twilio-python logs every request and response at INFO (URL, headers): too much at thousands a second
        # and nothing we need; its warnings still come through.
        quiet = logging.getLogger("twilio.http.notifier")
        quiet.setLevel(logging.WARNING)
        # One session of our own: enough connections for the configured concurrency.
        self.http = _LeanHttpClient(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=pool_size)), quiet)
        self.client = Client(account_sid, auth_token, http_client=self.http)
        self.client.api.base_url = api_base.rstrip("/")

    async def close(self) -> None:
        await self.http.close()

    async def send(self, *, to: str, body: str, status_callback: str | None, from_number: str | None = None,
                   validity_period: int | None = None) -> str:
        """The message sid; raises Rejected, Transient or Ambiguous. `validity_period`: Twilio's ValidityPeriod
        (seconds it may wait in Twilio's queue before Twilio drops it), None for Twilio's default."""
        async with self._provider_call():
            message = await self.client.messages.create_async(
                to=to, from_=from_number or self.from_number, body=body, status_callback=status_callback,
                validity_period=values.unset if validity_period is None else validity_period)
        return str(message.sid)

    async def call(self, *, to: str, twiml: str, status_callback: str | None, from_number: str,
                   ring_seconds: int) -> str:
        """Place a call that says `twiml`; the call sid. Raises Rejected, Transient or Ambiguous like `send`."""
        async with self._provider_call():
            call = await self.client.calls.create_async(
                to=to, from_=from_number, twiml=twiml, status_callback=status_callback, timeout=ring_seconds,
                status_callback_event=["completed"])
        return str(call.sid)

    @contextlib.asynccontextmanager
    async def _provider_call(self) -> AsyncIterator[None]:
        """Twilio's answers mapped to ours: what was not sent (Transient), may have been (Ambiguous), never will
        be (Rejected)."""
        try:
            async with asyncio.timeout(self.timeout):
                yield
        except TimeoutError as exc:
            raise Ambiguous("no answer in time") from exc
        except aiohttp.ClientConnectorError as exc:  # never reached the server: nothing sent
            raise Transient(f"connection failed: {type(exc).__name__}", provider_wide=True) from exc
        except (aiohttp.ClientError, OSError) as exc:  # lost during the exchange: may have been sent
            raise Ambiguous(f"connection lost: {type(exc).__name__}") from exc
        except TwilioException as exc:
            status = int(getattr(exc, "status", 0) or 0)
            code = getattr(exc, "code", None)
            if status in AMBIGUOUS_HTTP:
                # The request may have been processed (a 500, a gateway timeout): look before sending again.
                raise Ambiguous(f"HTTP {status}") from exc
            if is_retryable_http(status) or status in (401, 403):
                # 429, 503: nothing was created; 401/403: our credentials, not this message: keep it for when the
                # configuration is fixed
                raise Transient(f"HTTP {status}", provider_wide=True,
                                retry_after=self.http.take_retry_after() if status in (429, 503) else None) from exc
            if code is None:
                raise Rejected(Observation(DeliveryStatus.FAILED, f"http_{status}")) from exc
            raise Rejected(from_error_code(int(code)), f"twilio {code}") from exc

    async def find(self, *, to: str, body: str, since: datetime, exclude: frozenset[str] = frozenset(),
                   from_number: str | None = None) -> str | None:
        """After an ambiguous call: the sid of a message to `to` with this body created since `since`, if any."""
        return await self._first_since(
            lambda: self.client.messages.list_async(to=to, from_=from_number or self.from_number, limit=50,
                                                    page_size=50),
            since=since, exclude=exclude, wanted=lambda message: bool(message.body == body))

    async def find_call(self, *, to: str, from_number: str, since: datetime,
                        exclude: frozenset[str] = frozenset()) -> str | None:
        """After an ambiguous call request: the sid of a call to `to` placed since `since`, if any."""
        return await self._first_since(
            lambda: self.client.calls.list_async(to=to, from_=from_number,
                                                 start_time_after=since - timedelta(seconds=60), limit=20),
            since=since, exclude=exclude)

    async def _first_since(self, listing: Callable[[], Awaitable[Sequence[Any]]], *, since: datetime,
                           exclude: frozenset[str], wanted: Callable[[Any], bool] = lambda _: True) -> str | None:
        """The sid of the first record `listing` returns that is not in `exclude`, is `wanted` and was created at
        most a minute before `since` (or has no date); a lookup that fails or takes too long is Transient."""
        cutoff = since - timedelta(seconds=60)
        try:
            async with asyncio.timeout(self.timeout):
                records = await listing()
        except (TimeoutError, aiohttp.ClientError, OSError, TwilioException) as exc:
            raise Transient(f"lookup failed: {type(exc).__name__}") from exc
        for record in records:
            created = record.date_created
            if created is not None and created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            if record.sid not in exclude and wanted(record) and (created is None or created >= cutoff):
                return str(record.sid)
        return None
