#!/usr/bin/env bash
# Re-creates the JSON schemas kept in deploy/schemas/ from package registries (run by hand when a version moves;
# the results are committed, so CI validates offline):
# - Kubernetes v1.32 strict schemas from the kubernetes-validate wheel (PyPI);
# - Strimzi's Kafka, KafkaNodePool, KafkaTopic and KafkaUser CRDs written by Strimzi's own CRD generator from its API model
#   classes (Maven Central, deploy/schemas/strimzi/pom.xml);
# - CloudNativePG's Cluster CRD from its Go module (config/crd/bases, through the Go module proxy).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PY="$ROOT/.venv/bin/python"
KV_VERSION="1.37.0"
CNPG_VERSION="v1.27.1"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

"$PY" -m pip download -q --no-deps -d "$WORK/kv" "kubernetes-validate==$KV_VERSION"

mvn -q -B -f "$ROOT/deploy/schemas/strimzi/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$WORK/strimzi-libs"
java -cp "$WORK/strimzi-libs/*" io.strimzi.crdgenerator.CrdGenerator --yaml --target-kube 1.16+ \
     --api-versions v1beta2 --storage-version v1beta2 \
     "io.strimzi.api.kafka.model.kafka.Kafka=$WORK/strimzi-kafka.yaml" \
     "io.strimzi.api.kafka.model.nodepool.KafkaNodePool=$WORK/strimzi-kafkanodepool.yaml" \
     "io.strimzi.api.kafka.model.topic.KafkaTopic=$WORK/strimzi-kafkatopic.yaml" \
     "io.strimzi.api.kafka.model.user.KafkaUser=$WORK/strimzi-kafkauser.yaml" 2>/dev/null

CNPG_DIR="$(cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION" \
            | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"

rm -rf "$ROOT/deploy/schemas/kubernetes" "$ROOT/deploy/schemas/crds"
cd "$ROOT"
"$PY" -m deploy.build_schemas --kubernetes-wheel "$(ls "$WORK"/kv/*.whl)" \
      --crd "$WORK/strimzi-kafka.yaml" --crd "$WORK/strimzi-kafkanodepool.yaml" --crd "$WORK/strimzi-kafkatopic.yaml" \
      --crd "$WORK/strimzi-kafkauser.yaml" \
      --crd "$CNPG_DIR/config/crd/bases/postgresql.cnpg.io_clusters.yaml"
