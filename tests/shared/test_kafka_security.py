"""The Kafka security settings and the one helper every client is built with (shared/kafka/security.py)."""

from __future__ import annotations

import ast
import ssl
from pathlib import Path

import pytest
from faust.auth import SASLCredentials, SSLCredentials
from pydantic import ValidationError

from shared.kafka.security import client_security, faust_credentials
from shared.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[2]
#: aiokafka's clients: every construction in shared/ and services/ spreads `**security` into them.
CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient", "AIOKafkaClient", "HealingProducer"}
#: The project's factories of Kafka clients: every call passes `security=`.
FACTORIES = {"make_producer", "EventConsumer", "KafkaCheck", "GapFiller", "CrisisFeed", "latest_registrations",
             "ensure_topics"}
#: Not in a pod: the local demos play the external systems on the local broker (`make demo`, `make demo-feeds`).
EXEMPT = {"services/crisis_center/dashboard/demo.py", "services/feeds/dev/demo.py"}


def settings(**values: object) -> KafkaSettings:
    return KafkaSettings(**values)  # type: ignore[arg-type]


def test_plaintext_is_the_local_default() -> None:
    assert client_security(settings()) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings()) is None


def test_sasl_ssl_with_scram_and_the_cluster_ca(tmp_path: Path) -> None:
    from tests.deploy.secure_kafka import make_ca

    ca = make_ca(tmp_path)
    secure = settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="notifier",
                      kafka_sasl_password="s3cret-from-strimzi", kafka_ssl_cafile=str(ca.ca_file))
    options = client_security(secure)
    context = options.pop("ssl_context")
    assert options == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                       "sasl_plain_username": "notifier", "sasl_plain_password": "s3cret-from-strimzi"}
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "consular test CA"),),)]
    credentials = faust_credentials(secure)
    assert isinstance(credentials, SASLCredentials)
    assert (credentials.username, credentials.password) == ("notifier", "s3cret-from-strimzi")
    assert credentials.protocol.value == "SASL_SSL" and credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.ssl_context is not None
    assert "s3cret" not in repr(secure) and "s3cret" not in repr(credentials)


def test_tls_alone_and_sasl_without_tls(tmp_path: Path) -> None:
    from tests.deploy.secure_kafka import make_ca

    ca = make_ca(tmp_path)
    tls = settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(ca.ca_file))
    assert set(client_security(tls)) == {"security_protocol", "ssl_context"}
    assert isinstance(faust_credentials(tls), SSLCredentials)
    local = settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="intake",
                     kafka_sasl_password="local-only-password")
    assert "ssl_context" not in client_security(local)
    credentials = faust_credentials(local)
    assert isinstance(credentials, SASLCredentials) and credentials.protocol.value == "SASL_PLAINTEXT"


def test_a_ca_folder_trusts_every_certificate_in_it(tmp_path: Path) -> None:
    """Strimzi's cluster CA Secret mounted whole: during a CA key change it holds the old certificate too."""
    from tests.deploy.secure_kafka import make_ca

    folder = tmp_path / "kafka-ca"
    folder.mkdir()
    (folder / "ca.crt").write_bytes(make_ca(tmp_path / "new").ca_file.read_bytes())
    (folder / "ca-2026-12-01T00-00-00Z.crt").write_bytes(make_ca(tmp_path / "old").ca_file.read_bytes())
    (folder / "ca.password").write_text("not a certificate")
    options = client_security(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(folder)))
    assert len(options["ssl_context"].get_ca_certs()) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no \\*.crt"):
        client_security(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(empty)))


@pytest.mark.parametrize("values,message", [
    ({"kafka_security_protocol": "SASL_SSL"}, "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"),
    ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "intake"}, "KAFKA_SASL_PASSWORD"),
    ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "intake", "kafka_sasl_password": "changeme"},
     "KAFKA_SASL_PASSWORD is unset or a placeholder"),
    ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "intake",
      "kafka_sasl_password": "a-real-password"}, "in clear"),
    ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
])
def test_incomplete_or_unsafe_settings_fail_at_start(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**values)


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "directory")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "from-the-secret")
    options = client_security(KafkaSettings())
    assert options["sasl_plain_username"] == "directory" and options["sasl_plain_password"] == "from-the-secret"


def call_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def test_every_kafka_client_of_the_platform_is_built_with_the_security_settings() -> None:
    """A client built without them would connect in PLAINTEXT, which the cluster's only listener refuses: this
    finds it before a deployment does."""
    missing = []
    for path in sorted([*(ROOT / "shared").rglob("*.py"), *(ROOT / "services").rglob("*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        if relative in EXEMPT:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = call_name(node)
            spread = any(k.arg is None for k in node.keywords)
            keywords = {k.arg for k in node.keywords}
            is_privacy_consumer = name == "make_consumer" and isinstance(node.func, ast.Attribute) \
                and ast.unparse(node.func.value) in ("privacy", "privacy_requests")
            is_dlq = name in ("counts", "read") and isinstance(node.func, ast.Attribute) \
                and ast.unparse(node.func.value) == "dlq"
            passes_security = "security" in keywords or any("security" in ast.unparse(a) for a in node.args)
            if (name in CLIENTS and not spread) or \
                    ((name in FACTORIES or is_privacy_consumer or is_dlq) and not passes_security):
                missing.append(f"{relative}:{node.lineno} {ast.unparse(node)[:100]}")
            if name == "CrisisApp" and "broker_credentials" not in keywords:
                missing.append(f"{relative}:{node.lineno} the Faust app without broker_credentials")
    assert not missing, "Kafka clients built without client_security(settings):\n" + "\n".join(missing)
