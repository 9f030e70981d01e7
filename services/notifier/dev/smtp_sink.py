"""An SMTP sink (aiosmtpd) for development and tests: it accepts every mail and keeps it, so people and tests can
see what the notifier "sent".

- Recipients at the domain `refused.invalid` (or listed with `--refuse`) get `550 5.1.1 mailbox unavailable`, so
  the refused path can be exercised.
- Mails are kept in memory (`SmtpSink.messages`) and, with `--dir`, written there as `<n>.eml`.
- With `--http-port`, `GET /messages[?to=]` lists them as JSON and `DELETE /messages` forgets them.

Run: `python -m services.notifier.dev.smtp_sink --port 8025 --http-port 8026 --dir .run/mail`;
list from another shell: `python -m services.notifier.dev.smtp_sink list --dir .run/mail`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import hmac
import json
import socket
import ssl
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

REFUSED_DOMAIN = "refused.invalid"


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    text: str
    html: str
    message_id: str
    received_at: str
    headers: dict[str, str] = field(default_factory=dict)


def parse_mail(mail_from: str, rcpt_tos: list[str], raw: bytes) -> ReceivedMail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    return ReceivedMail(
        mail_from=mail_from,
        rcpt_tos=list(rcpt_tos),
        subject=str(message.get("Subject", "")),
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else "",
        message_id=str(message.get("Message-ID", "")),
        received_at=datetime.now(UTC).isoformat(),
        headers={k: str(v) for k, v in message.items()},
    )


class SinkHandler:
    """aiosmtpd handler: refuse some recipients, keep the rest."""

    def __init__(self, directory: Path | None = None, refuse: set[str] | None = None) -> None:
        self.messages: list[ReceivedMail] = []
        self.directory = directory
        self.refuse = {r.lower() for r in (refuse or set())}
        self._lock = threading.Lock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def refused(self, address: str) -> bool:
        address = address.lower()
        return address in self.refuse or address.endswith("@" + REFUSED_DOMAIN)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refused(address):
            return "550 5.1.1 Requested action not taken: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        mail = parse_mail(str(envelope.mail_from), list(envelope.rcpt_tos), raw)
        with self._lock:
            self.messages.append(mail)
            number = len(self.messages)
        if self.directory is not None:
            (self.directory / f"{number:07d}.eml").write_bytes(raw)
        return "250 Message accepted for delivery"

    def find(self, to: str | None = None) -> list[ReceivedMail]:
        with self._lock:
            mails = list(self.messages)
        if to is None:
            return mails
        return [m for m in mails if to.lower() in (r.lower() for r in m.rcpt_tos)]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()


class SmtpSink:
    """The sink on its own thread (aiosmtpd's Controller): `start()`, `stop()`, `handler.messages`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8025, directory: Path | None = None,
                 refuse: set[str] | None = None, *, tls_context: ssl.SSLContext | None = None,
                 credentials: tuple[str, str] | None = None) -> None:
        """`tls_context` makes STARTTLS mandatory; `credentials` makes AUTH (over TLS only) mandatory, like a
        ministry relay on the submission port."""
        self.handler = SinkHandler(directory, refuse)
        options: dict[str, Any] = {}
        if tls_context is not None:
            options |= {"tls_context": tls_context, "require_starttls": True}
        if credentials is not None:
            options |= {"authenticator": _Authenticator(*credentials), "auth_required": True,
                        "auth_require_tls": True}
        self.controller = Controller(self.handler, hostname=host, port=port or free_port(host), **options)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


class _Authenticator:
    """aiosmtpd's authenticator protocol: one login and password."""

    def __init__(self, login: str, password: str) -> None:
        self._login, self._password = login.encode(), password.encode()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and hmac.compare_digest(auth_data.login, self._login)
              and hmac.compare_digest(auth_data.password, self._password))
        return AuthResult(success=ok, handled=False)


def free_port(host: str = "127.0.0.1") -> int:
    """aiosmtpd's Controller cannot start on port 0 (it connects to itself to check): pick a free port first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def http_app(handler: SinkHandler) -> web.Application:
    async def list_messages(request: web.Request) -> web.Response:
        mails = handler.find(request.query.get("to"))
        return web.json_response({"count": len(mails), "messages": [asdict(m) for m in mails]})

    async def clear(_request: web.Request) -> web.Response:
        handler.clear()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/messages", list_messages)
    app.router.add_delete("/messages", clear)
    return app


def list_directory(directory: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(directory.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        out.append({"file": path.name, "to": str(message.get("To", "")), "subject": str(message.get("Subject", "")),
                    "date": str(message.get("Date", ""))})
    return out


async def _serve(args: argparse.Namespace) -> None:
    directory = Path(args.dir) if args.dir else None
    sink = SmtpSink(args.host, args.port, directory, set(args.refuse))
    sink.start()
    runner: web.AppRunner | None = None
    if args.http_port:
        runner = web.AppRunner(http_app(sink.handler))
        await runner.setup()
        await web.TCPSite(runner, args.host, args.http_port).start()
    print(f"SMTP sink on {args.host}:{args.port}" + (f", listing on http://{args.host}:{args.http_port}/messages"
                                                       if args.http_port else ""), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        sink.stop()
        if runner is not None:
            await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SMTP sink for development")
    parser.add_argument("command", nargs="?", default="serve", choices=("serve", "list"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--dir", default="")
    parser.add_argument("--refuse", action="append", default=[], metavar="ADDRESS")
    args = parser.parse_args(argv)
    if args.command == "list":
        print(json.dumps(list_directory(Path(args.dir or ".run/mail")), indent=2, ensure_ascii=False))
        return
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
