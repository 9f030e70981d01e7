"""A Kafka broker with the production cluster's security, for tests: TLS, SCRAM-SHA-512 and ACLs.

One KRaft node (Apache Kafka 4.1.1, the jars `scripts/kafka.sh install` fetches) on free loopback ports, data in
a folder of the test's: a SASL_SSL listener whose certificate a CA made here signs (`make_ca`, with
`cryptography`), SCRAM-SHA-512 credentials for `admin` (the super user that sets things up) and each user of
deploy/kafka_acls.py, written when the storage is formatted (`--add-scram`), and the StandardAuthorizer with
`allow.everyone.if.no.acl.found=false`: a client may do only what an ACL allows. The controller listener is
plaintext on loopback and its principal (ANONYMOUS) a super user, as a single combined node needs; clients never
use it. `apply_acls` writes the ACLs of the generated KafkaUsers (deploy/k8s/base/generated/kafka-users.yaml)
through Kafka's CreateAcls API, as Strimzi's user operator would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import ipaddress
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.protocol.admin import CreateAclsRequest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from shared.kafka.security import client_security
from shared.settings import KafkaSettings
from shared.topics import TopicSpec
from tests.support import ROOT, free_port

LIBS = ROOT / ".run" / "kafka-libs"
ADMIN = "admin"
# Kafka's protocol codes (org.apache.kafka.common.acl / resource): resource types, pattern, operations, permission.
RESOURCE_TYPES = {"topic": 2, "group": 3, "cluster": 4, "transactionalId": 5}
PATTERN_LITERAL = 3
OPERATIONS = {"Read": 3, "Write": 4, "Create": 5, "Delete": 6, "Alter": 7, "Describe": 8}
ALLOW = 3


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    """The CA's certificate: what clients trust (KAFKA_SSL_CAFILE)."""
    keystore: Path
    """The broker's private key and certificate (PEM), for `ssl.keystore.location`."""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(folder: Path, *, hosts: Iterable[str] = ("localhost",), ips: Iterable[str] = ("127.0.0.1",)) -> TlsFiles:
    """A CA of the test's own, and a broker certificate it signs for `hosts` and `ips` (valid one day)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = (x509.CertificateBuilder().subject_name(_name("consular test CA")).issuer_name(_name("consular test CA"))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False),
                              critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (x509.CertificateBuilder().subject_name(_name("consular-test-kafka")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                                  x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_file, keystore = folder / "ca.crt", folder / "broker.pem"
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    keystore.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
                         + cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    keystore.chmod(0o600)
    return TlsFiles(ca_file, keystore)


@dataclass
class SecureBroker:
    folder: Path
    port: int
    tls: TlsFiles
    passwords: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_in: float = 0.0
    log: list[str] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def settings(self, user: str, password: str | None = None, **overrides: Any) -> KafkaSettings:
        """The settings a pod of `user` has in Kubernetes: SASL_SSL, SCRAM-SHA-512, the CA file."""
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": self.bootstrap, "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": user,
            "kafka_sasl_password": password or self.passwords[user], "kafka_ssl_cafile": str(self.tls.ca_file),
        }
        return KafkaSettings(**{**values, **overrides})

    def security(self, user: str, password: str | None = None) -> dict[str, Any]:
        return client_security(self.settings(user, password))

    def server_log(self) -> str:
        path = self.folder / "logs" / "server.log"
        return path.read_text()[-4000:] if path.exists() else "(no server.log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _properties(broker: SecureBroker, controller_port: int) -> str:
    admin = broker.passwords[ADMIN]
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
        f"listeners=SASL_SSL://127.0.0.1:{broker.port},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners=SASL_SSL://127.0.0.1:{broker.port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=SASL_SSL",
        "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms=SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule"
        f' required username="{ADMIN}" password="{admin}";',
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={broker.tls.keystore}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={broker.tls.ca_file}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        f"super.users=User:{ADMIN};User:ANONYMOUS",
        "allow.everyone.if.no.acl.found=false",
        f"log.dirs={broker.folder / 'data'}",
        "num.partitions=1",
        "default.replication.factor=1",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=3",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "min.insync.replicas=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=false",
        "num.io.threads=2",
        "num.network.threads=2",
        "",
    ])


def _java(broker: SecureBroker, *args: str) -> list[str]:
    return ["java", "-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={broker.folder / 'logs'}",
            f"-Dlog4j2.configurationFile={ROOT / 'infra' / 'kafka' / 'log4j2.properties'}",
            "-cp", f"{LIBS}/*", *args]


async def start_broker(folder: Path, users: Iterable[str], *, timeout: float = 90.0) -> SecureBroker:
    """Format and start the broker; returns once `admin` lists topics over SASL_SSL."""
    started = time.monotonic()
    subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "install"], check=True, capture_output=True, timeout=600)
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    passwords = {name: secrets.token_hex(16) for name in [ADMIN, *users]}
    broker = SecureBroker(folder=folder, port=free_port(), tls=make_ca(folder / "tls"), passwords=passwords)
    config = folder / "server.properties"
    config.write_text(_properties(broker, free_port()))
    cluster_id = "-"
    while cluster_id.startswith("-"):  # as Kafka's own random-uuid: its argument parser reads "-..." as an option
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    scram = [arg for name, password in passwords.items()
             for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")]
    formatted = subprocess.run(_java(broker, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config),
                                     *scram), capture_output=True, text=True, timeout=120, check=False)
    assert formatted.returncode == 0, f"storage format failed:\n{formatted.stdout}\n{formatted.stderr}"
    with open(folder / "logs" / "stdout.log", "wb") as out:
        broker.process = subprocess.Popen(_java(broker, "kafka.Kafka", str(config)), stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ})
    deadline = time.monotonic() + timeout
    while True:
        if broker.process.poll() is not None:
            raise RuntimeError(f"the broker exited ({broker.process.returncode}):\n{broker.server_log()}")
        admin = AIOKafkaAdminClient(**broker.security(ADMIN), bootstrap_servers=broker.bootstrap,
                                    request_timeout_ms=5000)
        try:
            await asyncio.wait_for(admin.start(), 10)
            await asyncio.wait_for(admin.list_topics(), 10)
            break
        except Exception:
            if time.monotonic() > deadline:
                broker.stop()
                raise
            await asyncio.sleep(0.5)
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
    broker.started_in = time.monotonic() - started
    return broker


@contextlib.asynccontextmanager
async def admin_client(broker: SecureBroker) -> Any:
    admin = AIOKafkaAdminClient(**broker.security(ADMIN), bootstrap_servers=broker.bootstrap,
                                request_timeout_ms=30000)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def create_topics(broker: SecureBroker, specs: Iterable[TopicSpec]) -> None:
    """As the super user (the KafkaTopics' part in the cluster); waits until every one has its partitions."""
    wanted = {spec.name: spec for spec in specs}
    async with admin_client(broker) as admin:
        await admin.create_topics([NewTopic(s.name, s.partitions, 1, topic_configs=s.kafka_config())
                                   for s in wanted.values()], timeout_ms=60000)
        deadline = time.monotonic() + 60
        while True:
            seen = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(list(wanted))
                    if t["error_code"] == 0}
            if all(seen.get(name) == spec.partitions for name, spec in wanted.items()):
                return
            assert time.monotonic() < deadline, f"topics not all created: {sorted(set(wanted) - set(seen))}"
            await asyncio.sleep(0.2)


def generated_kafka_users() -> list[dict[str, Any]]:
    """The KafkaUser resources as deploy/k8s/base/generated/kafka-users.yaml has them (what Strimzi would get)."""
    path = ROOT / "deploy" / "k8s" / "base" / "generated" / "kafka-users.yaml"
    return [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == "KafkaUser"]


def acl_bindings(manifest: dict[str, Any]) -> list[tuple[int, str, int]]:
    """(resource type, resource name, operation) of each ACL Strimzi's user operator writes for a KafkaUser."""
    bindings = []
    for rule in manifest["spec"]["authorization"]["acls"]:
        resource = rule["resource"]
        assert resource["patternType"] == "literal" and rule.get("type", "allow") == "allow", rule
        bindings += [(RESOURCE_TYPES[resource["type"]], resource["name"], OPERATIONS[op]) for op in rule["operations"]]
    return bindings


async def apply_acls(broker: SecureBroker, manifests: Iterable[dict[str, Any]]) -> int:
    """Allow, for `User:<name>` from any host, exactly what each KafkaUser lists; the number of ACLs written."""
    written = 0
    async with admin_client(broker) as admin:
        for manifest in manifests:
            principal = f"User:{manifest['metadata']['name']}"
            for resource_type, name, operation in acl_bindings(manifest):
                request = CreateAclsRequest(resource_type, name, PATTERN_LITERAL, principal, "*", operation, ALLOW)
                response = await admin._send_request(request)  # aiokafka has the request, not a helper
                ((error_code, message),) = response.creation_responses
                assert error_code == 0, f"CreateAcls {principal} {name}: {error_code} {message}"
                written += 1
    return written
