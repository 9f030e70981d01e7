"""Writes the JSON schemas kubeconform validates our manifests against, kept in deploy/schemas/ (run by
deploy/schemas/refresh.sh, which fetches the sources from package registries).

- Kubernetes: the strict schemas of `kubernetes-validate` (PyPI) for the kinds we use, made standalone: the
  definitions each one refers to (transitively) are copied into its own `$defs`.
- Custom resources (Strimzi, CloudNativePG): each CRD version's `openAPIV3Schema`, in kubeconform's file naming
  (`<kind>_<version>.json`, lower case) and made strict the way openapi2jsonschema does it: an object that lists
  its properties and does not preserve unknown fields gets `additionalProperties: false`, so a misspelt field fails.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path
from typing import Any

import yaml

SCHEMAS = Path(__file__).resolve().parent / "schemas"
KUBERNETES_VERSION = "v1.32.0"
#: The Kubernetes kinds of our manifests (file stems of kubernetes-validate's schemas).
KINDS = (
    "configmap-v1", "deployment-apps-v1", "horizontalpodautoscaler-autoscaling-v2", "job-batch-v1",
    "namespace-v1", "networkpolicy-networking-v1", "poddisruptionbudget-policy-v1", "service-v1",
    "serviceaccount-v1",
)
#: The custom resource kinds we use, per CRD file name stem.
CRD_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster"}


def strict(node: Any) -> Any:
    """Add `additionalProperties: false` to every object schema that lists properties and allows no others."""
    if isinstance(node, dict):
        out = {k: strict(v) for k, v in node.items()}
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


def crd_schemas(crd: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """File name -> JSON schema, for every version of one CustomResourceDefinition."""
    kind = crd["spec"]["names"]["kind"]
    out: dict[str, dict[str, Any]] = {}
    for version in crd["spec"]["versions"]:
        schema = version.get("schema", {}).get("openAPIV3Schema")
        if schema is not None:
            out[f"{kind.lower()}_{version['name']}.json"] = strict(schema)
    return out


def write_crds(crd_files: list[Path], target: Path) -> list[str]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in crd_files:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            if doc["spec"]["names"]["kind"] not in CRD_KINDS:
                continue
            for name, schema in crd_schemas(doc).items():
                (target / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
                written.append(name)
    return sorted(written)


SHARED_REF = "/api/_definitions.json#/$defs/"  # in a kind's schema
LOCAL_REF = "#/$defs/"                           # between the shared definitions, and in our output


def _name(ref: str) -> str:
    return ref.removeprefix(SHARED_REF).removeprefix(LOCAL_REF)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        found = {_name(ref)} if isinstance(ref, str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _local_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (LOCAL_REF + _name(v) if k == "$ref" and isinstance(v, str) else _local_refs(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_local_refs(v) for v in node]
    return node


def standalone(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every shared definition it reaches copied into its `$defs`."""
    needed: set[str] = set()
    todo = _refs(schema)
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo |= _refs(definitions[name])
    out = _local_refs({k: v for k, v in schema.items() if k != "$id"})  # the file is its own base
    out["$defs"] = {name: _local_refs(definitions[name]) for name in sorted(needed)}
    return dict(out)


def write_kubernetes(wheel: Path, target: Path) -> list[str]:
    """Extract our kinds' strict schemas from the kubernetes-validate wheel, each made standalone."""
    folder = f"kubernetes_validate/kubernetes-json-schema/{KUBERNETES_VERSION}-local-strict/"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with zipfile.ZipFile(wheel) as archive:
        definitions = json.loads(archive.read(f"{folder}_definitions.json"))["$defs"]
        for stem in KINDS:
            schema = standalone(json.loads(archive.read(f"{folder}{stem}.json")), definitions)
            (target / f"{stem}.json").write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
            written.append(f"{stem}.json")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.build_schemas")
    parser.add_argument("--kubernetes-wheel", type=Path, help="a kubernetes-validate wheel")
    parser.add_argument("--crd", type=Path, action="append", default=[], help="a CRD YAML file (repeatable)")
    args = parser.parse_args(argv)
    if args.kubernetes_wheel:
        names = write_kubernetes(args.kubernetes_wheel, SCHEMAS / "kubernetes" / f"{KUBERNETES_VERSION}-strict")
        print(f"kubernetes schemas: {len(names)}")
    if args.crd:
        names = write_crds(args.crd, SCHEMAS / "crds")
        print(f"CRD schemas: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
