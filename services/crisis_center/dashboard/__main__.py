"""`python -m services.crisis_center.dashboard hash-password [name]`: a `DASHBOARD_USERS` entry for a password
read from the terminal (or from standard input when it is not a terminal).
`python -m services.crisis_center.dashboard demo [--travellers N] [--rate PER_SECOND] [--no-sms] [--no-welfare]
[--welfare-minutes M]`: plays the demo scenario (see `demo.py`) against the running system."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from shared.passwords import hash_password


def _hash(name: str) -> int:
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not password:
        print("an empty password is refused", file=sys.stderr)
        return 2
    print(f"{name}:{hash_password(password)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.crisis_center.dashboard")
    sub = parser.add_subparsers(dest="command", required=True)
    hashing = sub.add_parser("hash-password", help="print a DASHBOARD_USERS entry")
    hashing.add_argument("name", nargs="?", default="coordinator")
    demo = sub.add_parser("demo", help="play the Kathmandu earthquake scenario against the running system")
    demo.add_argument("--travellers", type=int, default=300)
    demo.add_argument("--rate", type=float, default=25.0, help="registrations per second")
    demo.add_argument("--no-sms", action="store_true", help="do not send SMS reports to intake")
    demo.add_argument("--keep-previous", action="store_true",
                      help="leave the crises of earlier runs active (by default they are closed first)")
    demo.add_argument("--no-welfare", action="store_true", help="no welfare round after the crisis is active")
    demo.add_argument("--welfare-minutes", type=int, default=1, help="the round's escalate_after_minutes")
    args = parser.parse_args(argv)
    if args.command == "hash-password":
        return _hash(args.name)
    # Here, not at the top: the demo is left out of the production image (.dockerignore), hash-password is not.
    from services.crisis_center.dashboard.demo import DemoSettings, Plan, play

    plan = Plan(travellers=args.travellers, per_second=args.rate, sms=not args.no_sms,
                close_previous=not args.keep_previous, welfare=not args.no_welfare,
                welfare_minutes=args.welfare_minutes)
    asyncio.run(play(DemoSettings(), plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
