"""How every Kafka client of the platform connects: one place that turns the `KAFKA_SECURITY_*` settings into the
keyword arguments of aiokafka's producer, consumer, admin and bare clients, and into Faust's broker credentials.

PLAINTEXT is the local broker (`make run`, the tests). In Kubernetes each service connects with SASL_SSL: the
brokers' TLS listener, SCRAM-SHA-512 as the service's own Strimzi `KafkaUser`, and the cluster CA
(`consular-kafka-cluster-ca-cert`) as the only trusted root, so a pod cannot read or write beyond the ACLs of its
user (deploy/kafka_acls.py; docs/deploy.md, "Kafka security").
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context

from shared.settings import KafkaSecuritySettings

#: What a factory takes as `security=`: aiokafka keyword arguments (empty: PLAINTEXT).
Security = Mapping[str, Any]

TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


def tls_context(settings: KafkaSecuritySettings) -> ssl.SSLContext | None:
    """The context that verifies the brokers (host name included) against `KAFKA_SSL_CAFILE`, or the system's CAs;
    None without TLS. `KAFKA_SSL_CAFILE` may name a folder: every `*.crt` in it is trusted (Strimzi's cluster CA
    Secret mounted whole keeps the old CA certificate beside the new one while the CA key is replaced)."""
    if settings.kafka_security_protocol not in TLS_PROTOCOLS:
        return None
    location = settings.kafka_ssl_cafile
    if location and Path(location).is_dir():
        certificates = sorted(Path(location).glob("*.crt"))
        if not certificates:
            raise FileNotFoundError(f"KAFKA_SSL_CAFILE={location}: no *.crt certificate in that folder")
        return create_ssl_context(cadata="\n".join(c.read_text() for c in certificates))
    return create_ssl_context(cafile=location or None)


def client_security(settings: KafkaSecuritySettings) -> dict[str, Any]:
    """The keyword arguments every aiokafka client of the process is built with (`**client_security(settings)`,
    or `security=` of the factories in shared/kafka)."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    context = tls_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if protocol in SASL_PROTOCOLS:
        assert settings.kafka_sasl_password is not None  # the settings' validator requires it
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def faust_credentials(settings: KafkaSecuritySettings) -> Any:
    """`broker_credentials` of a Faust app (faust-streaming hands them to its aiokafka clients): None for PLAINTEXT."""
    from faust.auth import SASLCredentials, SSLCredentials  # imported here: only the crisis center runs Faust

    protocol = settings.kafka_security_protocol
    context = tls_context(settings)
    if protocol in SASL_PROTOCOLS:
        assert settings.kafka_sasl_password is not None
        return SASLCredentials(username=settings.kafka_sasl_username,
                               password=settings.kafka_sasl_password.get_secret_value(),
                               ssl_context=context, mechanism=settings.kafka_sasl_mechanism)
    if context is not None:
        return SSLCredentials(context)
    return None
