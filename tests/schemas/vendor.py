"""Refresh the vendored JSON Schemas from the PyPI packages that ship them (see README.md).

    pip download --no-deps -d wheels check-jsonschema==0.39.0 kubernetes-validate==1.37.0
    python -m tests.schemas.vendor wheels/check_jsonschema-*.whl \\
        wheels/kubernetes_validate-*.whl

The Compose schema and its licence are copied as they are. Of the Kubernetes schemas, only the
kinds the manifests in ``deploy/k8s`` use are kept, each file as it is, and ``_definitions.json``
is cut down to the definitions those kinds reach (each definition unchanged).
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
KUBERNETES_VERSIONS = ("v1.35.0-local-strict", "v1.37.0-local-strict")
KINDS = (
    "configmap-v1",
    "deployment-apps-v1",
    "job-batch-v1",
    "poddisruptionbudget-policy-v1",
    "secret-v1",
    "service-v1",
)
_REF = re.compile(r'#/\$defs/([^"]+)"')


def vendor_compose(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        base = "check_jsonschema/builtin_schemas/vendor/"
        (HERE / "compose-spec.json").write_bytes(archive.read(base + "compose-spec.json"))
        (HERE / "LICENSE.compose-spec").write_bytes(
            archive.read(base + "licenses/LICENSE.compose-spec")
        )


def vendor_kubernetes(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        base = "kubernetes_validate/kubernetes-json-schema/"
        (HERE / "kubernetes").mkdir(exist_ok=True)
        (HERE / "kubernetes" / "LICENSE").write_bytes(
            archive.read(next(n for n in archive.namelist() if n.endswith("licenses/LICENSE")))
        )
        for version in KUBERNETES_VERSIONS:
            out = HERE / "kubernetes" / version
            out.mkdir(parents=True, exist_ok=True)
            definitions = json.loads(archive.read(f"{base}{version}/_definitions.json"))
            todo: list[str] = []
            for kind in KINDS:
                raw = archive.read(f"{base}{version}/{kind}.json")
                (out / f"{kind}.json").write_bytes(raw)
                todo += _REF.findall(raw.decode())
            kept: set[str] = set()
            while todo:
                name = todo.pop()
                if name not in kept:
                    kept.add(name)
                    todo += _REF.findall(json.dumps(definitions["$defs"][name]))
            definitions["$defs"] = {k: v for k, v in definitions["$defs"].items() if k in kept}
            (out / "_definitions.json").write_text(json.dumps(definitions, indent=1) + "\n")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        path = Path(arg)
        if path.name.startswith("check_jsonschema"):
            vendor_compose(path)
        elif path.name.startswith("kubernetes_validate"):
            vendor_kubernetes(path)
