"""The e-mail adapter against a relay that demands STARTTLS and authentication (aiosmtpd with a test CA)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from services.notifier.adapters.email import SmtpEmail, SmtpSecurity
from services.notifier.adapters.providers import Transient
from services.notifier.dev.smtp_sink import SmtpSink
from shared.settings import SmtpSettings

LOGIN, PASSWORD = "relay-user", "relay-password-for-tests"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate file = its own CA bundle, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("relay-tls")
    cert_file, key_file = folder / "relay.pem", folder / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def relay(certificate: tuple[Path, Path]) -> Iterator[SmtpSink]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    sink = SmtpSink("127.0.0.1", 0, tls_context=context, credentials=(LOGIN, PASSWORD))
    sink.start()
    yield sink
    sink.stop()


def adapter(relay: SmtpSink, security: SmtpSecurity) -> SmtpEmail:
    return SmtpEmail(host="127.0.0.1", port=relay.port, sender="noreply@diplomatie.example", timeout=10,
                     security=security)


async def send(email: SmtpEmail, to: str) -> None:
    await email.send(notification_id="n-tls-1", to=to, subject="Test", text="Body", html=None)


async def test_starttls_with_credentials_delivers(relay: SmtpSink, certificate: tuple[Path, Path]) -> None:
    security = SmtpSecurity("starttls", LOGIN, PASSWORD, ca_file=str(certificate[0]))
    await send(adapter(relay, security), "citizen@example.org")
    assert len(relay.handler.find("citizen@example.org")) == 1


async def test_wrong_password_is_transient_and_sends_nothing(relay: SmtpSink, certificate: tuple[Path, Path]) -> None:
    security = SmtpSecurity("starttls", LOGIN, "not-the-password", ca_file=str(certificate[0]))
    with pytest.raises(Transient, match="authentication"):
        await send(adapter(relay, security), "citizen@example.org")
    assert relay.handler.find() == []


async def test_untrusted_certificate_is_refused(relay: SmtpSink) -> None:
    """Without the relay's CA the certificate does not verify: no credentials leave, nothing is sent."""
    with pytest.raises(Transient):
        await send(adapter(relay, SmtpSecurity("starttls", LOGIN, PASSWORD)), "citizen@example.org")
    assert relay.handler.find() == []


def test_credentials_without_tls_are_refused_by_the_settings() -> None:
    with pytest.raises(ValidationError, match="SMTP_SECURITY"):
        SmtpSettings(smtp_username=LOGIN, smtp_password=PASSWORD)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="SMTP_PASSWORD"):
        SmtpSettings(smtp_username=LOGIN, smtp_security="starttls")
    assert SmtpSettings(smtp_username=LOGIN, smtp_password=PASSWORD,  # type: ignore[arg-type]
                        smtp_security="starttls").smtp_security == "starttls"
