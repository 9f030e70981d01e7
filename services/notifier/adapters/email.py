"""E-mail through SMTP with aiosmtplib: text and HTML alternatives, a Message-ID derived from the notification."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

import aiosmtplib

from services.notifier.adapters.providers import Ambiguous, Rejected, Transient
from services.notifier.domain.delivery import DeliveryStatus, Observation


@dataclass(frozen=True, slots=True)
class SmtpSecurity:
    """How to reach the relay: `none` only for the local sink; credentials only with TLS (the settings refuse)."""

    mode: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    def tls_context(self) -> ssl.SSLContext | None:
        if self.mode == "none":
            return None
        return ssl.create_default_context(cafile=self.ca_file)  # verifies the certificate and the host name


class SmtpEmail:
    def __init__(self, *, host: str, port: int, sender: str, timeout: float,
                 security: SmtpSecurity | None = None) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        self.security = security or SmtpSecurity()
        self._tls_context = self.security.tls_context()

    def build(self, *, notification_id: str, to: str, subject: str, text: str, html: str | None) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        # The same id on a resend, so that mail systems and clients can recognise a duplicate.
        message["Message-ID"] = f"<{notification_id}@notifier.{self.sender.partition('@')[2] or 'local'}>"
        message.set_content(text)
        if html:
            message.add_alternative(html, subtype="html")
        return message

    async def send(self, *, notification_id: str, to: str, subject: str, text: str, html: str | None) -> None:
        message = self.build(notification_id=notification_id, to=to, subject=subject, text=text, html=html)
        try:
            await aiosmtplib.send(
                message, hostname=self.host, port=self.port, timeout=self.timeout,
                use_tls=self.security.mode == "tls",
                # "none" must not upgrade opportunistically either: the local sink has no certificate.
                start_tls=self.security.mode == "starttls",
                tls_context=self._tls_context,
                username=self.security.username, password=self.security.password,
            )
        except aiosmtplib.SMTPAuthenticationError as exc:
            # The relay refuses our credentials: a configuration fault, not this message's; retry, never drop.
            raise Transient(f"smtp authentication refused ({exc.code})", provider_wide=True) from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise Rejected(Observation(DeliveryStatus.UNDELIVERABLE, "smtp_refused")) from exc
        except aiosmtplib.SMTPConnectError as exc:
            raise Transient("smtp connection failed", provider_wide=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:  # 421: the relay is unavailable, whatever the message
                raise Transient(f"smtp {exc.code}", provider_wide=exc.code == 421) from exc
            raise Rejected(Observation(DeliveryStatus.FAILED, f"smtp_{exc.code}")) from exc
        except (aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected) as exc:
            raise Ambiguous(f"smtp {type(exc).__name__}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise Transient(f"smtp {type(exc).__name__}") from exc
