"""`python -m services.intake.console hash-password [name]`: a `CONSOLE_USERS` entry for a password
read from the terminal (or from standard input when it is not a terminal)."""

from __future__ import annotations

import getpass
import sys

from shared.passwords import hash_password


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "hash-password":
        print(__doc__, file=sys.stderr)
        return 2
    name = args[1] if len(args) > 1 else "officer"
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not password:
        print("an empty password is refused", file=sys.stderr)
        return 2
    print(f"{name}:{hash_password(password)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
