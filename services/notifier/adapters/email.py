"""E-mail through SMTP with aiosmtplib: text and HTML alternatives, a Message-ID derived from the notification."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from services.notifier.adapters.providers import Ambiguous, Rejected, Transient
from services.notifier.domain.delivery import DeliveryStatus, Observation


class SmtpEmail:
    def __init__(self, *, host: str, port: int, sender: str, timeout: float) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

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
            await aiosmtplib.send(message, hostname=self.host, port=self.port, timeout=self.timeout)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise Rejected(Observation(DeliveryStatus.UNDELIVERABLE, "smtp_refused")) from exc
        except aiosmtplib.SMTPConnectError as exc:
            raise Transient("smtp connection failed") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise Transient(f"smtp {exc.code}") from exc
            raise Rejected(Observation(DeliveryStatus.FAILED, f"smtp_{exc.code}")) from exc
        except (aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected) as exc:
            raise Ambiguous(f"smtp {type(exc).__name__}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise Transient(f"smtp {type(exc).__name__}") from exc
