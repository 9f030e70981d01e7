#!/usr/bin/env bash
# The project's virtualenv (.venv): every dependency from requirements.lock in pip's hash-checking mode (a file
# whose hash is not in the lock is refused), then the project itself, editable, without resolving anything more.
# Run through scripts/step.sh by `make venv`, which hides pip's output unless it fails.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY=.venv/bin/python
test -x "$PY" || python3.11 -m venv .venv || python3 -m venv .venv
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q --require-hashes -r requirements.lock
"$PY" -m pip install -q --no-deps -e '.[dev]'
echo "venv: $("$PY" --version), $("$PY" -m pip freeze --exclude-editable | wc -l) packages from requirements.lock"
