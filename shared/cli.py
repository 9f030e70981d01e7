"""The project's command line: `python -m shared.cli token|migrate|seed|topics|dlq|hash-password ...`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from shared.auth import ROLES, JwtConfig, mint_token
from shared.db import migrate, seed, seed_files
from shared.kafka import dlq
from shared.kafka.admin import ensure_topics
from shared.kafka.producer import make_producer
from shared.kafka.security import client_security
from shared.passwords import hash_password
from shared.settings import AuthSettings, DatabaseSettings, KafkaSettings

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("intake", "directory", "crisis_center", "notifier", "feeds")


def migrations_dir(service: str) -> Path:
    return ROOT / "services" / service / "migrations"


def _token(args: argparse.Namespace) -> int:
    auth = AuthSettings()
    if auth.auth_mode != "local":
        print(f"AUTH_MODE={auth.auth_mode}: tokens come from the identity provider ({auth.oidc_issuer}), "
              "not from JWT_SECRET; the services would refuse a locally minted one", file=sys.stderr)
        return 2
    config = JwtConfig(auth.jwt_secret.get_secret_value(), auth.jwt_issuer, auth.jwt_audience)
    token = mint_token(config, subject=args.subject, roles=args.role, ttl_seconds=args.ttl)
    if args.quiet:
        print(token)
    else:  # what an external system must put in its own tokens, on stderr: `$(make token)` still reads the token
        print(f"iss={config.issuer} aud={config.audience} sub={args.subject} roles={','.join(args.role)} "
              f"exp=+{args.ttl}s (HS256 with JWT_SECRET)", file=sys.stderr)
        print(token)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    database_url = DatabaseSettings().database_url
    for service in args.service or SERVICES:
        folder = migrations_dir(service)
        applied = asyncio.run(migrate(database_url, service, folder if folder.is_dir() else None))
        print(f"{service}: {len(applied)} migration(s) applied" + (f" ({', '.join(applied)})" if applied else ""))
    return 0


def seeds_dir(service: str) -> Path:
    return ROOT / "services" / service / "seeds"


def _seed(args: argparse.Namespace) -> int:
    database_url = DatabaseSettings().database_url
    for service in args.service or SERVICES:
        files = seed_files(seeds_dir(service))
        if files:
            asyncio.run(seed(database_url, service, files))
            print(f"{service}: local seed applied ({', '.join(p.name for p in files)})")
    return 0


def _topics(args: argparse.Namespace) -> int:
    kafka = KafkaSettings()
    created = asyncio.run(ensure_topics(kafka.kafka_bootstrap_servers, prefix=kafka.kafka_topic_prefix,
                                        replication_factor=args.replication_factor, security=client_security(kafka)))
    print(f"topics created: {len(created)}" + (f" ({', '.join(created)})" if created else ""))
    return 0


def _dlq(args: argparse.Namespace) -> int:
    kafka = KafkaSettings()
    bootstrap, prefix = kafka.kafka_bootstrap_servers, kafka.kafka_topic_prefix
    security = client_security(kafka)  # in Kubernetes: the dead-letters KafkaUser (docs/deploy.md)
    if args.action == "list":
        for topic, held in asyncio.run(dlq.counts(bootstrap, prefix, security=security)).items():
            print(f"{held:8d}  {topic}")
        return 0
    if not args.topic:
        print("a dead-letter topic is needed (see `dlq list`)", file=sys.stderr)
        return 2
    topic = args.topic if args.topic.endswith(".dlq") else args.topic + ".dlq"
    topic = topic if topic.startswith(prefix) else prefix + topic
    letters = asyncio.run(dlq.read(bootstrap, topic, start=args.offset, limit=args.limit, security=security))
    if args.action == "show":
        for letter in letters:  # the reason and where it came from; the value may hold personal data: not shown
            print(f"{letter.offset}\t{letter.topic}@{letter.source_offset}\tkey={letter.key}\t{letter.consumer}\t"
                  f"{letter.reason}")
        return 0

    async def send_back() -> int:
        producer = make_producer(bootstrap, client_id="dlq-replay", security=security)
        await producer.start()
        try:
            return await dlq.replay(producer, letters, prefix=prefix, dlq_topic=topic)
        finally:
            await producer.stop()

    print(f"replayed {asyncio.run(send_back())} record(s) of {topic} from offset {args.offset}")
    return 0


def _hash_password(args: argparse.Namespace) -> int:
    password = getpass.getpass(f"password for {args.name}: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    print(f"{args.name}:{hash_password(password)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="mint a JWT for the local configuration (JWT_SECRET)")
    token.add_argument("--role", action="append", choices=ROLES, required=True)
    token.add_argument("--subject", default="local-user")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    token.add_argument("--quiet", action="store_true", help="the token alone, without its claims on stderr")
    token.set_defaults(func=_token)
    mig = sub.add_parser("migrate", help="apply the SQL migrations of one or every service")
    mig.add_argument("service", nargs="*", help=f"one of {SERVICES}; all when omitted")
    mig.set_defaults(func=_migrate)
    seeding = sub.add_parser("seed", help="apply the local seed data (placeholder officers, on-call rota); "
                                          "never run in production")
    seeding.add_argument("service", nargs="*", help=f"one of {SERVICES}; all when omitted")
    seeding.set_defaults(func=_seed)
    topics = sub.add_parser("topics", help="create every topic of shared/topics.py and its DLQ twin")
    topics.add_argument("--replication-factor", type=int, default=1)
    topics.set_defaults(func=_topics)
    dead = sub.add_parser("dlq", help="dead-letter topics: list them, show a topic's records, replay them")
    dead.add_argument("action", choices=["list", "show", "replay"])
    dead.add_argument("topic", nargs="?", help="e.g. welfare.answers.dlq (the prefix is added)")
    dead.add_argument("--offset", type=int, default=0, help="the first record (show, replay)")
    dead.add_argument("--limit", type=int, default=100, help="how many records (show, replay)")
    dead.set_defaults(func=_dlq)
    hashing = sub.add_parser("hash-password", help="a DASHBOARD_USERS entry (password on stdin)")
    hashing.add_argument("name")
    hashing.set_defaults(func=_hash_password)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
