"""The Kubernetes deployment: validated offline (deploy/validate.sh: kustomize + kubeconform against the schemas
kept in deploy/schemas, hadolint), generated from one source of truth, and shaped as docs/deploy.md says."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.topics import all_topic_specs

ROOT = Path(__file__).resolve().parents[2]
VALIDATE = ROOT / "deploy" / "validate.sh"
BUILT = ROOT / ".run" / "k8s"
OVERLAYS = ("dev", "prod")
PYLIB = ROOT / ".run" / "tools" / "pylib"


def run_validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VALIDATE), *args], capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def validated() -> str:
    """Runs deploy/validate.sh once: it installs its tools (fails the tests when it cannot) and builds overlays."""
    done = run_validate()
    assert done.returncode == 0, f"deploy/validate.sh failed:\n{done.stdout}\n{done.stderr}"
    if PYLIB.is_dir() and str(PYLIB) not in sys.path:  # PyYAML installed there when the venv lacks it
        sys.path.append(str(PYLIB))
    return done.stdout


@pytest.fixture(scope="module")
def yaml_module(validated: str) -> Any:
    import yaml

    return yaml


@pytest.fixture(scope="module")
def builds(validated: str, yaml_module: Any) -> dict[str, list[dict[str, Any]]]:
    return {o: [d for d in yaml_module.safe_load_all((BUILT / f"{o}.yaml").read_text()) if d] for o in OVERLAYS}


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_every_overlay_builds_and_validates(validated: str) -> None:
    summaries = re.findall(r"Summary: (\d+) resources? found in 1 file - Valid: (\d+), Invalid: (\d+), Errors: (\d+)",
                           validated)
    assert len(summaries) == len(OVERLAYS)
    for found, valid, invalid, errors in summaries:
        assert int(found) > 50 and found == valid and invalid == errors == "0"
    assert "validate: ok" in validated


def test_kubeconform_rejects_what_the_schemas_forbid(validated: str, yaml_module: Any, tmp_path: Path) -> None:
    """The check has teeth: a misspelt Deployment field and a bad KafkaTopic and Cluster field all fail."""
    docs = [d for d in yaml_module.safe_load_all((BUILT / "prod.yaml").read_text()) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    deployment["spec"]["replica"] = 2
    topic = next(d for d in docs if d["kind"] == "KafkaTopic")
    topic["spec"]["partitions"] = "six"
    cluster = next(d for d in docs if d["kind"] == "Cluster")
    cluster["spec"]["instance"] = 3
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml_module.safe_dump_all([deployment, topic, cluster]))
    done = run_validate("file", str(broken))
    assert done.returncode != 0
    assert "Invalid: 3" in done.stdout
    assert "'replica' not allowed" in done.stdout and "'instance' not allowed" in done.stdout
    assert "/spec/partitions" in done.stdout


def test_generated_manifests_are_what_the_generator_writes(validated: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from deploy import gen

    assert gen.stale() == []
    # ... and the check notices a hand edit.
    copy = tmp_path / "generated"
    shutil.copytree(gen.GENERATED, copy)
    topics = copy / "topics.yaml"
    topics.write_text(topics.read_text().replace("partitions: 6", "partitions: 12", 1))
    monkeypatch.setattr(gen, "GENERATED", copy)
    assert gen.stale() == [topics]


@pytest.mark.parametrize("overlay,replicas,min_insync", [("prod", 3, "2"), ("dev", 1, "1")])
def test_topics_match_shared_topics(builds: dict[str, list[dict[str, Any]]], overlay: str, replicas: int,
                                    min_insync: str) -> None:
    from deploy.gen import faust_internal_specs

    topics = {d["spec"]["topicName"]: d["spec"] for d in builds[overlay] if d["kind"] == "KafkaTopic"}
    specs = [*all_topic_specs(), *faust_internal_specs()]
    assert set(topics) == {s.name for s in specs}
    for spec in specs:
        manifest = topics[spec.name]
        assert manifest["partitions"] == spec.partitions
        assert manifest["replicas"] == replicas
        assert manifest["config"] == {**spec.kafka_config(), "min.insync.replicas": min_insync}


@pytest.mark.parametrize("overlay,brokers,instances", [("prod", 3, 3), ("dev", 1, 1)])
def test_kafka_is_kraft_and_postgres_is_cloudnativepg(builds: dict[str, list[dict[str, Any]]], overlay: str,
                                                      brokers: int, instances: int) -> None:
    docs = builds[overlay]
    (kafka,) = by_kind(docs, "Kafka").values()
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert "zookeeper" not in kafka["spec"]
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == brokers
    assert config["min.insync.replicas"] == max(1, brokers - 1)
    (pool,) = by_kind(docs, "KafkaNodePool").values()
    assert pool["spec"]["replicas"] == brokers
    assert set(pool["spec"]["roles"]) == {"broker", "controller"}
    (cluster,) = by_kind(docs, "Cluster").values()
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["spec"]["instances"] == instances


def services() -> Iterator[tuple[str, int | None, int, int]]:
    """(package, API port or None for a worker-only service, health port, worker's most replicas)."""
    from deploy.gen import SERVICES

    for service in SERVICES:
        yield service.package, service.port, service.health_port, service.worker_max_replicas


def settings_default(package: str, field: str) -> Any:
    import importlib

    module = importlib.import_module(f"services.{package}.settings")
    (settings,) = [v for k, v in vars(module).items() if k.endswith("Settings") and v.__module__ == module.__name__]
    return settings.model_fields[field].default


def test_faust_topics_in_the_manifests_are_the_ones_the_worker_makes() -> None:
    """The changelogs declared for the crisis center are those of the tables its Faust app defines."""
    from deploy.gen import FAUST_APP_ID, faust_internal_specs
    from services.crisis_center.settings import Settings
    from services.crisis_center.worker import CrisisWorker

    settings = Settings(jwt_secret="x" * 40, faust_store="memory://",  # type: ignore[call-arg]
                        faust_data_dir=str(ROOT / ".run" / "test-faust-manifests"))
    assert settings.faust_app_id == FAUST_APP_ID
    app = CrisisWorker(settings).app
    made = {table.changelog_topic.get_topic_name(): table.partitions for table in app.tables.values()}
    declared = {s.name: s.partitions for s in faust_internal_specs() if s.name.endswith("-changelog")}
    assert declared == made


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_its_api_worker_and_migrations(builds: dict[str, list[dict[str, Any]]],
                                                        overlay: str) -> None:
    docs = builds[overlay]
    deployments, jobs = by_kind(docs, "Deployment"), by_kind(docs, "Job")
    hpas, pdbs = by_kind(docs, "HorizontalPodAutoscaler"), by_kind(docs, "PodDisruptionBudget")
    k8s_services = by_kind(docs, "Service")
    for package, port, health_port, worker_max in services():
        name = package.replace("_", "-")
        assert (ROOT / "services" / package / "__main__.py").is_file()
        if port is None:  # a worker only (the feeds poller): no API, no Service
            assert f"{name}-api" not in deployments and name not in k8s_services
        else:
            api = deployments[f"{name}-api"]["spec"]["template"]["spec"]["containers"][0]
            assert api["args"] == ["-m", f"services.{package}", "api"]
            assert api["ports"][0]["containerPort"] == port
            assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert k8s_services[name]["spec"]["ports"][0]["port"] == port
        worker = deployments[f"{name}-worker"]["spec"]["template"]["spec"]["containers"][0]
        assert worker["args"] == ["-m", f"services.{package}", "worker"]
        assert worker["ports"] == [{"name": "health", "containerPort": health_port, "protocol": "TCP"}]
        assert worker["livenessProbe"]["httpGet"] == {"port": "health", "path": "/healthz"}
        assert worker["startupProbe"]["httpGet"] == {"port": "health", "path": "/healthz"}
        assert worker["readinessProbe"]["httpGet"] == {"port": "health", "path": "/readyz"}
        config = by_kind(docs, "ConfigMap")[f"{name}-config"]["data"]
        assert config["HEALTH_PORT"] == str(health_port)
        assert settings_default(package, "health_port") == health_port  # `make run` uses the same port
        migrate = jobs[f"{name}-migrate"]["spec"]["template"]["spec"]
        assert migrate["containers"][0]["args"] == ["-m", "shared.cli", "migrate", package]
        assert migrate["restartPolicy"] == "Never"
        for component in ("api", "worker") if port is not None else ("worker",):
            container = deployments[f"{name}-{component}"]["spec"]["template"]["spec"]["containers"][0]
            assert {"requests", "limits"} <= set(container["resources"])
            assert container["securityContext"]["runAsNonRoot"] is True
            assert f"{name}-{component}" in pdbs
            if component == "worker" and worker_max == 1:  # a singleton: one replica, never scaled
                assert deployments[f"{name}-worker"]["spec"]["replicas"] == 1
                assert f"{name}-worker" not in hpas
                continue
            hpa = hpas[f"{name}-{component}"]["spec"]
            assert hpa["scaleTargetRef"]["name"] == f"{name}-{component}"
            assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]


def test_worker_autoscaling_stops_at_the_partitions_it_can_share(builds: dict[str, list[dict[str, Any]]]) -> None:
    most_partitions = max(s.partitions for s in all_topic_specs())
    for name, hpa in by_kind(builds["prod"], "HorizontalPodAutoscaler").items():
        if name.endswith("-worker"):
            assert hpa["spec"]["maxReplicas"] <= most_partitions


SECRET_NAMES = re.compile(r"(SECRET|TOKEN|PASSWORD|DATABASE_URL|ACCOUNT_SID)")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_references_only(builds: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    docs = builds[overlay]
    assert not by_kind(docs, "Secret")
    for config in by_kind(docs, "ConfigMap").values():
        assert not [k for k in config["data"] if SECRET_NAMES.search(k)]
    pods = [d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "Job")]
    assert pods
    for pod in pods:
        for env in pod["containers"][0].get("env", []):
            if SECRET_NAMES.search(env["name"]):
                assert "value" not in env and "secretKeyRef" in env["valueFrom"], env["name"]


def test_network_policies_open_only_what_each_needs(builds: dict[str, list[dict[str, Any]]]) -> None:
    docs = builds["prod"]
    policies = by_kind(docs, "NetworkPolicy")
    deny = policies["platform-default-deny"]["spec"]
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in deny and "egress" not in deny
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in docs if d["kind"] in ("Deployment", "Job")]
    for labels in pod_labels:  # every pod of ours has its own policy
        assert any(p["spec"]["podSelector"].get("matchLabels") == labels for p in policies.values())
    for name, policy in policies.items():
        spec = policy["spec"]
        for rule in spec.get("egress", []):
            ports = {p["port"] for p in rule.get("ports", [])}
            if any("ipBlock" in peer for peer in rule["to"]):  # leaving the cluster: mail, SMS, the alert feeds
                assert (name, frozenset(ports)) in {("notifier-worker", frozenset({443, 587})),
                                                    ("feeds-worker", frozenset({443})),
                                                    ("platform-api-egress-oidc", frozenset({443}))}
            elif name != "platform-allow-dns":
                assert ports <= {5432, 9093}  # PostgreSQL, the Kafka TLS listener
        if name.endswith("-worker"):  # Prometheus only, on the health port
            (rule,) = spec["ingress"]
            assert {p["port"] for p in rule["ports"]} == {int(policy_config(docs, name)["HEALTH_PORT"])}
            assert [peer["namespaceSelector"]["matchLabels"] for peer in rule["from"]] == [
                {"kubernetes.io/metadata.name": "monitoring"}]
        if name.endswith("-migrations"):
            assert spec["ingress"] == []
        if name.endswith("-migrations"):
            assert all({p["port"] for p in r["ports"]} == {5432} for r in spec["egress"])


def test_production_signs_in_through_the_provider_and_development_stays_local(
        builds: dict[str, list[dict[str, Any]]]) -> None:
    from shared.settings import AuthSettings

    for overlay, mode in (("prod", "oidc"), ("dev", None)):
        configs = by_kind(builds[overlay], "ConfigMap")
        services = [name.removesuffix("-config") for name in configs if name.endswith("-config")]
        assert len(services) >= 5
        for service in services:
            data = configs[f"{service}-config"]["data"]
            assert data.get("AUTH_MODE") == mode, (overlay, service)
            if mode:  # the service's auth settings accept what the manifest gives them
                settings = AuthSettings(jwt_secret="a secret the oidc mode never uses, 32+",
                                        auth_mode=data["AUTH_MODE"], oidc_issuer=data["OIDC_ISSUER"])
                assert settings.auth_mode == "oidc" and settings.oidc_issuer.startswith("https://")
    apis = [d for d in builds["prod"] if d["kind"] == "Deployment"
            and d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "api"]
    egress = by_kind(builds["prod"], "NetworkPolicy")["platform-api-egress-oidc"]["spec"]
    assert apis and all(set(egress["podSelector"]["matchLabels"].items())
                        <= set(d["spec"]["template"]["metadata"]["labels"].items()) for d in apis)
    assert "platform-api-egress-oidc" not in by_kind(builds["dev"], "NetworkPolicy")


def policy_config(docs: list[dict[str, Any]], policy: str) -> dict[str, str]:
    service = policy.rsplit("-", 1)[0]
    return dict(by_kind(docs, "ConfigMap")[f"{service}-config"]["data"])


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerfile_copies_paths_that_exist_and_are_in_the_context() -> None:
    text = (ROOT / "Dockerfile").read_text()
    copies = [line.split()[1:] for line in text.splitlines() if line.startswith("COPY ")]
    sources = [src for args in copies if not any(a.startswith("--from") for a in args)
               for src in [a for a in args if not a.startswith("--")][:-1]]
    assert {"pyproject.toml", "requirements.runtime.lock", "shared", "services"} <= set(sources)
    ignored = dockerignore_patterns()
    for src in sources:
        assert (ROOT / src).exists(), f"COPY {src}: no such path"
        assert not any(fnmatch.fnmatch(src, pattern) for pattern in ignored), f"COPY {src}: excluded by .dockerignore"
    assert "config/local.env" in ignored
    user = [line for line in text.splitlines() if line.startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in ("0", "root")
    assert text.count("FROM python:3.11-slim") == 2
    assert "pip install --require-hashes -r requirements.runtime.lock" in text and "pip install --no-deps ." in text
