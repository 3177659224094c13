"""The deployment files, checked without a container engine or a cluster: the compose file and
every Kubernetes manifest against their JSON Schemas (vendored, see tests/schemas/README.md),
and the facts that must agree across them: image versions, the metrics port, the scrape configs,
the graceful-shutdown budget, the namespace script, the dashboard's metric names."""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from onboarding.runtime import metrics
from onboarding.runtime.client import connect_config
from workers.main import DEFAULT_GRACEFUL_SHUTDOWN, GRACEFUL_SHUTDOWN_ENV

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "schemas"
COMPOSE = ROOT / "docker-compose.temporal.yml"
K8S = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
KUBERNETES_VERSIONS = ("v1.35.0-local-strict", "v1.37.0-local-strict")
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "onboarding.json"


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def manifests() -> list[tuple[str, dict[str, Any]]]:
    """Every Kubernetes object in deploy/k8s, with the file it is in."""
    return [
        (path.name, doc)
        for path in K8S
        for doc in yaml.safe_load_all(path.read_text())
        if doc is not None
    ]


def kind_of(name: str) -> dict[str, Any]:
    (found,) = [doc for _, doc in manifests() if doc["kind"] == name]
    return found


def worker_deployment() -> dict[str, Any]:
    return kind_of("Deployment")


def worker_container() -> dict[str, Any]:
    (container,) = worker_deployment()["spec"]["template"]["spec"]["containers"]
    return dict(container)


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def image_tag(image: str) -> tuple[str, str]:
    name, _, tag = image.rpartition(":")
    return name, tag


@cache
def kubernetes_validator(version: str, kind_file: str) -> Draft202012Validator:
    folder = SCHEMAS / "kubernetes" / version
    definitions = json.loads((folder / "_definitions.json").read_text())
    registry: Registry = Registry().with_resource(
        definitions["$id"], Resource.from_contents(definitions)
    )
    schema = json.loads((folder / kind_file).read_text())
    return Draft202012Validator(schema, registry=registry)


def kind_file(doc: dict[str, Any]) -> str:
    group, _, version = doc["apiVersion"].rpartition("/")
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{doc['kind'].lower()}{suffix}.json"


# ---------------------------------------------------------------- schemas


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    errors = sorted(Draft202012Validator(schema).iter_errors(compose()), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_kubernetes_manifest_follows_the_kubernetes_schema(version: str) -> None:
    found = manifests()
    assert {doc["kind"] for _, doc in found} >= {"Deployment", "ConfigMap", "Secret", "Job"}
    for name, doc in found:
        schema_file = kind_file(doc)
        assert (SCHEMAS / "kubernetes" / version / schema_file).exists(), (
            f"{name}: no vendored schema for {doc['kind']} ({schema_file}); see tests/schemas"
        )
        errors = list(kubernetes_validator(version, schema_file).iter_errors(doc))
        assert not errors, f"{name} {doc['kind']}: " + "; ".join(
            f"{list(e.absolute_path)}: {e.message}" for e in errors
        )


def test_a_typo_in_a_manifest_is_caught() -> None:
    """The strict schemas refuse unknown fields: the check has teeth."""
    deployment = json.loads(json.dumps(worker_deployment()))
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 45
    validator = kubernetes_validator(KUBERNETES_VERSIONS[0], kind_file(deployment))
    assert not validator.is_valid(deployment)
    service = dict(compose()["services"]["worker"], stop_grace=45)
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    assert not Draft202012Validator(schema).is_valid({"services": {"worker": service}})


# ---------------------------------------------------------------- images


def temporal_images() -> list[tuple[str, str, str]]:
    """(where, image name, tag) of every Temporal image in compose and Kubernetes."""
    found = [
        ("compose " + name, *image_tag(service["image"]))
        for name, service in compose()["services"].items()
        if service.get("image", "").startswith("temporalio/")
    ]
    for file, doc in manifests():
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []):
            if container["image"].startswith("temporalio/"):
                found.append((f"{file} {doc['kind']}", *image_tag(container["image"])))
    return found


def test_temporal_images_are_one_release_and_never_auto_setup() -> None:
    images = temporal_images()
    names = {name for _, name, _ in images}
    assert names == {"temporalio/server", "temporalio/admin-tools", "temporalio/ui"}, images
    server = {tag for _, name, tag in images if name == "temporalio/server"}
    admin_tools = {tag for _, name, tag in images if name == "temporalio/admin-tools"}
    ui = {tag for _, name, tag in images if name == "temporalio/ui"}
    assert len(server) == 1 and admin_tools == server, "admin-tools must match the server"
    assert len(ui) == 1
    for where, _, tag in images:
        assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"{where}: pin a release, not {tag!r}"


def test_every_image_is_pinned() -> None:
    images = [s["image"] for s in compose()["services"].values() if "image" in s]
    for _, doc in manifests():
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        images += [c["image"] for c in spec.get("containers", [])]
    for image in images:
        _, tag = image_tag(image)
        assert tag and tag != "latest", f"{image} is not pinned"
        assert "auto-setup" not in image, "deprecated: admin-tools sets the schema up"


# ---------------------------------------------------------------- workers


def test_workers_are_scaled_and_get_their_graceful_shutdown_before_sigkill() -> None:
    default = DEFAULT_GRACEFUL_SHUTDOWN.total_seconds()
    deployment = worker_deployment()
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    grace = float(env_of(worker_container())[GRACEFUL_SHUTDOWN_ENV])
    assert grace == default
    period = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert period >= grace + 10, "SIGKILL must not come before the graceful shutdown ends"

    worker = compose()["services"]["worker"]
    assert worker["deploy"]["replicas"] >= 2
    assert float(worker["environment"][GRACEFUL_SHUTDOWN_ENV]) == default
    stop = int(re.fullmatch(r"(\d+)s", worker["stop_grace_period"]).group(1))  # type: ignore[union-attr]
    assert stop >= default + 10


def test_the_metrics_port_is_the_same_everywhere() -> None:
    port = metrics.DEFAULT_METRICS_PORT
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert f"EXPOSE {port}" in dockerfile
    assert f"{metrics.METRICS_ADDRESS_ENV}=0.0.0.0:{port}" in dockerfile
    worker = compose()["services"]["worker"]
    assert worker["environment"][metrics.METRICS_ADDRESS_ENV] == f"0.0.0.0:{port}"
    assert str(port) in worker["expose"]
    container = worker_container()
    assert env_of(container)[metrics.METRICS_ADDRESS_ENV] == f"0.0.0.0:{port}"
    assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in container["ports"]
    annotations = worker_deployment()["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)


def test_prometheus_scrapes_every_worker_in_compose_and_kubernetes() -> None:
    port = metrics.DEFAULT_METRICS_PORT
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    (dns,) = jobs["onboarding-worker"]["dns_sd_configs"]
    assert dns["names"] == ["worker"] and dns["port"] == port
    assert "worker" in compose()["services"]
    prometheus = compose()["services"]["prometheus"]
    assert (
        "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
        in prometheus["volumes"]
    )

    embedded = yaml.safe_load(_prometheus_configmap())
    (job,) = embedded["scrape_configs"]
    keep = {
        r["source_labels"][0]: r["regex"]
        for r in job["relabel_configs"]
        if r.get("action") == "keep"
    }
    labels = worker_deployment()["spec"]["template"]["metadata"]["labels"]
    assert (
        keep["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
        == labels["app.kubernetes.io/name"]
    )
    port_names = {p["name"] for p in worker_container()["ports"]}
    assert keep["__meta_kubernetes_pod_container_port_name"] in port_names


def _prometheus_configmap() -> str:
    (config,) = [
        doc["data"]["prometheus.yml"]
        for _, doc in manifests()
        if doc["kind"] == "ConfigMap" and "prometheus.yml" in doc.get("data", {})
    ]
    return str(config)


def test_the_kubernetes_namespace_job_runs_the_same_script_as_compose() -> None:
    script = (ROOT / "deploy" / "setup-namespace.sh").read_text()
    (configmap,) = [
        doc
        for _, doc in manifests()
        if doc["kind"] == "ConfigMap" and "setup-namespace.sh" in doc.get("data", {})
    ]
    assert configmap["data"]["setup-namespace.sh"] == script
    setup = compose()["services"]["temporal-setup"]
    assert "./deploy/setup-namespace.sh:/setup-namespace.sh:ro" in setup["volumes"]


# ---------------------------------------------------------------- dashboard


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def dashboard_metric_names() -> set[str]:
    return {
        name
        for expr in dashboard_expressions()
        for name in re.findall(r"\b((?:onboarding|temporal)_[a-z_]+)\b", expr)
    }


def test_the_dashboard_charts_every_business_metric_and_only_real_ones() -> None:
    used = {n for n in dashboard_metric_names() if n.startswith("onboarding_")}
    histogram_series = {
        f"{h}{suffix}"
        for h in metrics.PROMETHEUS_HISTOGRAMS
        for suffix in ("_bucket", "_sum", "_count")
    }
    unknown = used - set(metrics.PROMETHEUS_COUNTERS) - histogram_series
    assert not unknown, f"the dashboard queries metrics nobody records: {unknown}"
    charted = {n.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count") for n in used}
    missing = set(metrics.PROMETHEUS_COUNTERS) | set(metrics.PROMETHEUS_HISTOGRAMS)
    missing -= charted
    assert not missing, f"metrics the dashboard does not show: {missing}"


def test_grafana_is_provisioned_with_the_dashboard_and_its_data_source() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (source,) = sources["datasources"]
    variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")
    assert variable["current"]["value"] == source["uid"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in compose()["services"]
    grafana = compose()["services"]["grafana"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"/var/lib/grafana/dashboards/{DASHBOARD.name}"
    for expr in dashboard_expressions():
        assert expr.count("(") == expr.count(")"), expr


def test_the_temporal_cloud_example_configures_an_api_key_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The example's active lines, read by the same client configuration as every process."""
    for name in [k for k in os.environ if k.startswith("TEMPORAL_")]:
        monkeypatch.delenv(name)
    example = (ROOT / "deploy" / "temporal-cloud.env.example").read_text()
    for line in example.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            monkeypatch.setenv(name, value)
    config = connect_config()
    assert config["target_host"].endswith(".tmprl.cloud:7233")
    assert config["api_key"] == "replace-me" and config["tls"] is True
    assert config["namespace"] == "your-namespace.a1b2c"
