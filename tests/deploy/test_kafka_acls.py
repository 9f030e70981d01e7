"""The Kafka ACL table (deploy/kafka_acls.py) against the code: each service may read what its consumers subscribe
to, in the groups they join, and write what it publishes (and the dead-letter twins of what it consumes); nothing
more. Every topic has its users. The generated KafkaUsers, the Deployments' credentials and the docs follow the
table. (tests/deploy/test_kafka_acls_broker.py applies the same table to a broker with authorization on.)

What each service consumes and publishes is read from its code: the `EventConsumer` calls (topics and group),
the privacy consumers, the Faust app's agents and tables, and every event model the service constructs."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import kafka_acls
from deploy.kafka_acls import CHANGELOGS, FAUST_APP_ID, LEADER, USERS, KafkaUserSpec, user, user_of_service
from services.crisis_center.adapters import registries
from shared.events.envelope import EventData
from shared.events.privacy import REQUESTS_TOPIC, RESPONSES_TOPIC, PrivacyAnswered
from shared.events.registry import EVENT_MODELS
from shared.topics import TOPICS, all_topic_specs, dlq_name

ROOT = Path(__file__).resolve().parents[2]
#: The packages whose pods connect as a user of the table.
SERVICES = tuple(u.service for u in USERS if u.service)
MODELS: dict[str, type[EventData]] = {m.__name__: m for m in EVENT_MODELS}

# Code that is not part of a service's pods: the local demos play the external systems (`make demo`,
# `make demo-feeds`).
NOT_IN_PODS = {"services/crisis_center/dashboard/demo.py", "services/feeds/dev/demo.py"}
# Event models a service builds without publishing them (file, model): the crisis center records an answer it
# received itself through its own links (welfare.py), which intake publishes on welfare.answers.
BUILT_NOT_PUBLISHED = {("services/crisis_center/welfare.py", "WelfareAnswered")}
# Raw sends of tombstones (`send_and_wait(topic, None, ...)`), by file: a registration erased (privacy) or expired.
TOMBSTONES = {
    "services/intake/retention.py": "travellers.registrations",
    "services/crisis_center/privacy.py": "travellers.registrations",
}
# Readers without a group and without dead letters, by file: the dashboard's live feed, a privacy look-up of the
# latest registrations, the gap filler that re-reads what the Faust agents missed (their own topics).
GROUPLESS_READERS = {
    "services/crisis_center/adapters/feed.py": {"crisis.status"},
    "services/crisis_center/privacy.py": {"travellers.registrations"},
    "services/crisis_center/adapters/gaps.py": {"consular.reports", "crisis.incidents", "crisis.by-country"},
    # every registry reads the incidents whole, and its partitions' held travellers back
    "services/crisis_center/adapters/registries.py": {"crisis.incidents", kafka_acls.HELD},
}
# Published for systems outside the platform; nothing of ours reads them.
READ_OUTSIDE_ONLY = {"directory.posts"}


# ------------------------------------------------------------------------------------------- reading the code
def service_files(package: str) -> Iterator[tuple[str, ast.Module, Any]]:
    """(path relative to the repository, syntax tree, module) of each module of a service's pods."""
    for path in sorted((ROOT / "services" / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in NOT_IN_PODS or "/migrations/" in relative:
            continue
        module = importlib.import_module(relative.removesuffix(".py").replace("/", "."))
        yield relative, ast.parse(path.read_text()), module


def call_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def evaluate(expr: ast.expr, module: Any) -> Any:
    """An expression of the call site, in its module's namespace (module-level constants only)."""
    tree = ast.fix_missing_locations(ast.Expression(expr))
    return eval(compile(tree, "<acl-test>", "eval"), vars(module))  # noqa: S307 - our own code


def group_of(expr: ast.expr, module: Any) -> str:
    """A consumer group as the code writes it, without the test-only topic prefix: f"{prefix}intake" -> intake."""
    if isinstance(expr, ast.JoinedStr):
        assert isinstance(expr.values[0], ast.FormattedValue), ast.unparse(expr)  # the prefix comes first
        rest = ast.JoinedStr(values=expr.values[1:])
        return str(evaluate(rest, module))
    return str(evaluate(expr, module))


def consumers_in_code(package: str) -> tuple[set[str], set[str]]:
    """(topics consumed, consumer groups) by the service's `EventConsumer`s and privacy consumers."""
    topics: set[str] = set()
    groups: set[str] = set()
    for path, tree, module in service_files(package):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            if call_name(node) == "EventConsumer":
                topics_expr, group_expr = keyword(node, "topics"), keyword(node, "group_id")
                assert topics_expr is not None and group_expr is not None, f"{path}:{node.lineno}"
                topics |= set(evaluate(topics_expr, module))
                groups.add(group_of(group_expr, module))
            elif call_name(node) == "make_consumer" and isinstance(node.func, ast.Attribute) \
                    and ast.unparse(node.func.value) == "privacy_requests":
                service = keyword(node, "service")
                assert service is not None, f"{path}:{node.lineno}"
                groups.add(f"{evaluate(service, module)}-privacy")  # shared/privacy_requests.py
                topics.add(REQUESTS_TOPIC)
                if keyword(node, "on_answer") is not None:  # the coordinator collects the answers too
                    topics.add(RESPONSES_TOPIC)
    return topics, groups


def annotation_ids(tree: ast.Module) -> set[int]:
    """Nodes inside annotations and isinstance()/issubclass() checks: a model named there is not built."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        parts: list[ast.expr] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg,
                        arguments.kwarg]:
                if arg is not None and arg.annotation is not None:
                    parts.append(arg.annotation)
            if node.returns is not None:
                parts.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            parts.append(node.annotation)
        elif isinstance(node, ast.Call) and call_name(node) in ("isinstance", "issubclass"):
            parts.extend(node.args[1:2])
        for part in parts:
            skipped.update(id(sub) for sub in ast.walk(part))
    return skipped


def published_in_code(package: str) -> dict[str, set[str]]:
    """Topic -> where: every event model the service builds (a call, `model_validate`, a model picked from a
    mapping), the privacy answers of its privacy consumer, and its tombstones."""
    where: dict[str, set[str]] = {}
    for path, tree, _module in service_files(package):
        skipped = annotation_ids(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in MODELS \
                    and id(node) not in skipped and (path, node.id) not in BUILT_NOT_PUBLISHED:
                where.setdefault(MODELS[node.id].TOPIC, set()).add(f"{path}:{node.lineno} {node.id}")
            if isinstance(node, ast.Call) and call_name(node) == "make_consumer" \
                    and isinstance(node.func, ast.Attribute) and ast.unparse(node.func.value) == "privacy_requests":
                where.setdefault(PrivacyAnswered.TOPIC, set()).add(f"{path}:{node.lineno} privacy answers")
            if isinstance(node, ast.Call) and call_name(node) == "send_and_wait" and len(node.args) >= 2 \
                    and isinstance(node.args[1], ast.Constant) and node.args[1].value is None:
                assert path in TOMBSTONES, f"{path}:{node.lineno}: a tombstone to which topic? (add it to TOMBSTONES)"
                where.setdefault(TOMBSTONES[path], set()).add(f"{path}:{node.lineno} tombstone")
    return where


def groupless_readers(package: str) -> dict[str, set[str]]:
    """The files that build a bare `AIOKafkaConsumer` (no group, no dead letters), with what they read."""
    found: dict[str, set[str]] = {}
    for path, tree, _module in service_files(package):
        if any(isinstance(n, ast.Call) and call_name(n) == "AIOKafkaConsumer" for n in ast.walk(tree)):
            assert path in GROUPLESS_READERS, f"{path}: a consumer without a group: which topics? (GROUPLESS_READERS)"
            found[path] = GROUPLESS_READERS[path]
    return found


@pytest.fixture(scope="module")
def faust_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The crisis center's Faust app as the worker builds it (memory tables, never started)."""
    from services.crisis_center.settings import Settings
    from services.crisis_center.worker import CrisisWorker

    settings = Settings(jwt_secret="x" * 40, faust_store="memory://",  # type: ignore[call-arg]
                        faust_data_dir=str(tmp_path_factory.mktemp("faust")))
    assert settings.faust_app_id == FAUST_APP_ID
    return CrisisWorker(settings).app


def faust_topics(app: Any) -> tuple[set[str], set[str], str]:
    """(topics its agents consume, its tables' changelogs, its leader topic)."""
    consumed = {topic for agent in app.agents.values() for topic in agent.channel.topics}
    changelogs = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    return consumed, changelogs, app._leader_assignor._leader_topic_name


def code_view(package: str, app: Any) -> dict[str, set[str]]:
    """What the service's code consumes, reads, writes and which groups it joins."""
    consumes, groups = consumers_in_code(package)
    writes = set(published_in_code(package))
    reads: set[str] = set().union(*groupless_readers(package).values())
    if package == "crisis_center":
        agents, changelogs, leader = faust_topics(app)
        consumes |= agents  # every agent dead-letters (worker.py, `dead_letter`)
        groups.add(app.conf.id)
        reads |= changelogs | {leader}  # tables recover from their changelogs; the leader assignment
        writes |= changelogs | {"crisis.by-country"}  # table updates; the routing agents' forwards
        # the registries (adapters/registries.py): a group over the registrations (dead letters), the held topic
        consumes.add(registries.REGISTRATIONS)
        groups.add(f"{app.conf.id}-registry")
        writes.add(kafka_acls.HELD)
    declares: set[str] = set()
    if package == "crisis_center":
        declares = changelogs | {leader, kafka_acls.HELD}  # Faust's own topics and the held one, made at start
    reads -= consumes
    return {"consumes": consumes, "reads": reads, "groups": groups, "declares": declares,
            "writable": writes | {dlq_name(t) for t in consumes}}


# ------------------------------------------------------------------------------------------------------ tests
def test_every_service_that_uses_kafka_has_its_user() -> None:
    """A new service (e.g. a feeds worker) that consumes or publishes gets its own KafkaUser, never a shared one."""
    packages = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").is_file())
    using = {p for p in packages if any(consumers_in_code(p)) or published_in_code(p)}
    assert using == set(SERVICES), "add a KafkaUserSpec with service=<package> to deploy/kafka_acls.py USERS"
    assert len(SERVICES) == len(set(SERVICES))


@pytest.mark.parametrize("package", SERVICES)
def test_each_service_reads_what_its_consumers_subscribe_to_in_its_own_groups(package: str, faust_app: Any) -> None:
    spec = user_of_service(package)
    code = code_view(package, faust_app)
    assert code["consumes"] == set(spec.consumes), f"{spec.name}: consumers in code vs kafka_acls.USERS"
    assert code["groups"] == set(spec.groups), f"{spec.name}: consumer groups in code vs kafka_acls.USERS"
    assert code["reads"] == set(spec.reads), f"{spec.name}: group-less readers in code vs kafka_acls.USERS"
    assert code["declares"] == set(spec.declares), f"{spec.name}: topics it declares vs kafka_acls.USERS"


@pytest.mark.parametrize("package", SERVICES)
def test_each_service_writes_what_it_publishes_and_nothing_more(package: str, faust_app: Any) -> None:
    spec = user_of_service(package)
    code = code_view(package, faust_app)
    missing = code["writable"] - spec.writable()
    assert not missing, f"{spec.name} publishes without a Write ACL: {published_in_code(package)} -> {missing}"
    unused = spec.writable() - code["writable"]
    assert not unused, f"{spec.name} may write what its code never does: {sorted(unused)}"


def test_the_scan_sees_what_each_service_publishes() -> None:
    """The code scan has teeth: it finds the events and tombstones the services are known to publish."""
    assert set(published_in_code("directory")) == {"directory.routings", "directory.posts", "privacy.responses"}
    assert set(published_in_code("notifier")) == {"notifications.status", "privacy.responses"}
    intake = published_in_code("intake")
    assert {"privacy.requests", "notifications.commands", "consular.reports", "cases.deadlines"} <= set(intake)
    assert any("tombstone" in site for site in intake["travellers.registrations"])
    # a manual crisis's incident (counted by the worker) and its end; the local demo's feed is not scanned
    assert {site.split(":")[0] + " " + site.rsplit(" ", 1)[1] for site in published_in_code("crisis_center")[
        "crisis.incidents"]} == {"services/crisis_center/handlers.py IncidentReported",
                                 "services/crisis_center/handlers.py IncidentClosed"}


def test_the_public_directory_cannot_command_the_notifier_or_ask_for_personal_data() -> None:
    """Finding 10 of issue 19: a compromised directory API pod must not publish these."""
    directory = user("directory")
    assert "notifications.commands" not in directory.writable()
    assert "privacy.requests" not in directory.writable()
    assert directory.readable() == {"consular.reports", "privacy.requests"}
    service_users = [u for u in USERS if u.service]
    assert {u.name for u in service_users if "privacy.requests" in u.writable()} == {"intake"}
    assert {u.name for u in service_users if "notifications.commands" in u.writable()} == {"intake", "crisis-center"}
    assert {u.name for u in service_users if "notifications.commands" in u.readable()} == {"notifier"}


def declared_topics() -> set[str]:
    from deploy.gen import faust_internal_specs

    return {s.name for s in [*all_topic_specs(), *faust_internal_specs()]}


def test_every_topic_has_its_writers_and_readers_and_every_acl_a_topic() -> None:
    """A topic added to shared/topics.py (or a Faust table) without ACLs fails here."""
    topics = declared_topics()
    producers = [u for u in USERS if u.name != "dead-letters"]
    consumers = [u for u in USERS if u.service]
    for topic in sorted(topics):
        if topic.endswith(".dlq"):
            assert topic in user("dead-letters").readable(), topic
            continue
        if topic != LEADER:  # Faust uses only the leader topic's partition assignment, writes nothing there
            assert any(topic in u.writable() for u in producers), f"{topic}: no user may write it"
        if topic not in READ_OUTSIDE_ONLY:
            assert any(topic in u.readable() for u in consumers), f"{topic}: no service may read it"
    for spec in USERS:
        assert set(spec.topic_operations()) <= topics, f"{spec.name}: ACLs on topics that do not exist"
    dead_letters = user("dead-letters")
    assert dead_letters.writable() == {t.name for t in TOPICS} and not dead_letters.groups
    assert user("external-feeds").readable() == set()


def test_changelogs_and_leader_are_the_workers_own(faust_app: Any) -> None:
    _, changelogs, leader = faust_topics(faust_app)
    assert set(CHANGELOGS) == changelogs and leader == LEADER
    assert all(c.startswith(f"{FAUST_APP_ID}-") for c in changelogs)


def generated(name: str) -> list[dict[str, Any]]:
    path = ROOT / "deploy" / "k8s" / "base" / "generated" / name
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def expected_rules(spec: KafkaUserSpec) -> set[tuple[str, str, str]]:
    rules = {("topic", topic, op) for topic, ops in spec.topic_operations().items() for op in ops}
    return rules | {("group", group, "Read") for group in spec.groups}


def test_the_generated_kafka_users_are_the_table() -> None:
    users = {d["metadata"]["name"]: d for d in generated("kafka-users.yaml")}
    assert set(users) == {u.name for u in USERS}
    for spec in USERS:
        manifest = users[spec.name]
        assert manifest["metadata"]["labels"]["strimzi.io/cluster"] == kafka_acls.KAFKA_CLUSTER
        assert manifest["spec"]["authentication"] == {"type": "scram-sha-512"}
        authorization = manifest["spec"]["authorization"]
        assert authorization["type"] == "simple"
        rules = {(r["resource"]["type"], r["resource"]["name"], op)
                 for r in authorization["acls"] for op in r["operations"]}
        assert rules == expected_rules(spec)
        assert all(r["resource"]["patternType"] == "literal" for r in authorization["acls"])
        assert not {op for _, _, op in rules} - {"Read", "Write", "Describe", "Create"}
        created = {name for _, name, op in rules if op == "Create"}
        assert created == (set(CHANGELOGS) | {LEADER, kafka_acls.HELD} if spec.name == "crisis-center" else set()), (
            spec.name)


def deployed() -> list[str]:
    from deploy.gen import SERVICES as DEPLOYED

    return [service.package for service in DEPLOYED]


@pytest.mark.parametrize("package", deployed())
def test_each_deployment_connects_as_its_user_over_tls(package: str) -> None:
    from deploy.gen import KAFKA_BOOTSTRAP, KAFKA_CA_SECRET

    name = package.replace("_", "-")
    docs = generated(f"{name}.yaml")
    spec = user_of_service(package)
    (config,) = [d["data"] for d in docs if d["kind"] == "ConfigMap"]
    assert config["KAFKA_BOOTSTRAP_SERVERS"] == KAFKA_BOOTSTRAP and KAFKA_BOOTSTRAP.endswith(":9093")
    assert config["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert config["KAFKA_SASL_USERNAME"] == spec.name
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert len(deployments) == (1 if package == "feeds" else 2)  # the feeds service is a worker only
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": spec.name, "key": "password"}
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "kafka-ca"]
        assert config["KAFKA_SSL_CAFILE"] == mount["mountPath"] and mount["readOnly"] is True
        (volume,) = [v for v in pod["volumes"] if v["name"] == "kafka-ca"]
        assert volume["secret"] == {"secretName": KAFKA_CA_SECRET}  # every certificate of the CA Secret
    (job,) = [d for d in docs if d["kind"] == "Job"]
    assert "KAFKA_SASL_PASSWORD" not in {e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_the_cluster_has_one_listener_tls_with_scram_and_simple_authorization() -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy/k8s/base/kafka/kafka.yaml").read_text()) if d]
    (kafka,) = [d for d in docs if d["kind"] == "Kafka"]
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    assert listener["tls"] is True and listener["port"] == 9093 and listener["type"] == "internal"
    assert listener["authentication"] == {"type": "scram-sha-512"}
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    assert "userOperator" in kafka["spec"]["entityOperator"]


def test_the_docs_show_the_table() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    assert kafka_acls.docs_table() in text, "run `python -m deploy.gen`"
