"""deploy/: compose, Kubernetes and systemd files parse, carry their required fields, and agree
with the code (every WEBFAQ_* value loads, every command is one the CLI accepts, every probe
path is served, every Secret/ConfigMap/PVC reference resolves)."""

from __future__ import annotations

import configparser
import os
import shlex
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from webfaq_stream.cli.main import build_parser
from webfaq_stream.settings import ENV_PREFIX, Settings, load_settings
from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.metrics import Metrics
from webfaq_stream.worker.web import serve_http

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"


def k8s_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in k8s_documents() if doc["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [doc for doc in by_kind(kind) if doc["metadata"]["name"] == name]
    return doc


def assert_cli_accepts(argv: list[str]) -> None:
    """The command line is one the real CLI parser accepts (argparse exits on a bad one)."""
    assert argv[0] == "webfaq-stream" or argv[0].endswith("/webfaq-stream"), argv
    args = build_parser().parse_args(argv[1:])
    assert getattr(args, "func", None) is not None, argv


def assert_settings_load(values: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """The WEBFAQ_* values, as given to a process, make a valid configuration."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    known = {ENV_PREFIX + field.upper() for field in Settings.model_fields}
    for name, value in values.items():
        assert name in known, f"{name} is not a setting"
        if name == "WEBFAQ_KAFKA_SSL_CAFILE":  # a mounted file in production; any file here
            value = str(tmp_path / "ca.pem")
            Path(value).write_text("pem")
        monkeypatch.setenv(name, str(value))
    return load_settings()


# --- compose ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_runs_kraft_kafka_qdrant_two_workers_and_the_release_job(compose):
    services = compose["services"]
    kafka = services["kafka"]["environment"]
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"] and "broker" in kafka["KAFKA_PROCESS_ROLES"]
    assert kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"] and not any("ZOOKEEPER" in key for key in kafka)
    assert services["qdrant"]["image"].startswith("qdrant/qdrant:")
    workers = [name for name, svc in services.items() if svc.get("command", [None])[0] == "worker"]
    assert len(workers) == 2
    release = services["release"]["command"]
    assert release[0] == "release"
    for name in [*workers, "release"]:
        service = services[name]
        assert_cli_accepts(["webfaq-stream", *service["command"]])
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    published = [svc["ports"][0].rsplit(":", 2)[-2] for svc in (services[w] for w in workers)]
    assert len(set(published)) == len(published)  # each worker's metrics on its own host port


def test_compose_environment_is_a_valid_configuration(compose, monkeypatch, tmp_path):
    env = compose["services"]["worker-1"]["environment"]
    settings = assert_settings_load(env, monkeypatch, tmp_path)
    assert settings.kafka_bootstrap == "kafka:9092" and settings.qdrant_url == "http://qdrant:6333"
    topics = compose["services"]["topics"]["command"][0]
    assert f"{settings.topic}:" in topics and f"{settings.dead_letter_topic}:" in topics


def test_env_examples_are_valid_configurations(monkeypatch, tmp_path):
    for path in (DEPLOY / "env.example", SYSTEMD / "webfaq.env.example"):
        values = {}
        for line in path.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                name, _, value = line.partition("=")
                values[name.strip()] = value.strip()
        assert values, path
        assert_settings_load(values, monkeypatch, tmp_path)


# --- Kubernetes ------------------------------------------------------------------------------
def test_every_manifest_has_api_version_kind_and_name():
    docs = k8s_documents()
    assert {doc["kind"] for doc in docs} >= {"ConfigMap", "Secret", "Deployment", "CronJob",
                                            "Service", "PodDisruptionBudget", "PersistentVolumeClaim"}
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"], doc


def test_kustomization_lists_every_manifest_and_only_existing_files():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_configmap_is_a_valid_configuration(monkeypatch, tmp_path):
    (configmap,) = by_kind("ConfigMap")
    secrets = {"WEBFAQ_KAFKA_SASL_PASSWORD": "from-the-secret", "WEBFAQ_QDRANT_API_KEY": "from-the-secret"}
    settings = assert_settings_load({**configmap["data"], **secrets}, monkeypatch, tmp_path)
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert not set(configmap["data"]) & set(secrets)  # credentials never in the ConfigMap


def test_worker_deployment_probes_resources_and_shutdown_fit_the_code():
    deployment = named("Deployment", "webfaq-worker")
    (configmap,) = by_kind("ConfigMap")
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert_cli_accepts(container["command"])
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert deployment["spec"]["replicas"] <= int(configmap["data"]["WEBFAQ_PARTITIONS"])
    assert spec["terminationGracePeriodSeconds"] > float(configmap["data"]["WEBFAQ_SHUTDOWN_GRACE_S"])
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}[container["readinessProbe"]["httpGet"]["port"]]
    assert port == int(configmap["data"]["WEBFAQ_WEB_PORT"])
    paths = {container[probe]["httpGet"]["path"] for probe in ("startupProbe", "livenessProbe", "readinessProbe")}
    health = HealthState(startup_grace_s=0)  # never heard from a broker: unready, but alive
    with serve_http(0, Metrics(), health, host="127.0.0.1") as server:
        for path in paths:
            try:
                status = urllib.request.urlopen(server.url + path, timeout=5).status
            except urllib.error.HTTPError as exc:
                status = exc.code
            expected = 503 if path == container["readinessProbe"]["httpGet"]["path"] else 200
            assert status == expected, path


def test_every_secret_configmap_and_claim_reference_resolves():
    secrets = {doc["metadata"]["name"]: set(doc.get("stringData", {})) | set(doc.get("data", {}))
               for doc in by_kind("Secret")}
    configmaps = {doc["metadata"]["name"] for doc in by_kind("ConfigMap")}
    claims = {doc["metadata"]["name"] for doc in by_kind("PersistentVolumeClaim")}
    pods = [d["spec"]["template"]["spec"] for d in by_kind("Deployment")]
    pods += [c["spec"]["jobTemplate"]["spec"]["template"]["spec"] for c in by_kind("CronJob")]
    for pod in pods:
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in configmaps
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]], ref
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                keys = {item["key"] for item in volume["secret"].get("items", [])}
                assert keys <= secrets[volume["secret"]["secretName"]]
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims


def test_services_and_budgets_select_the_workers():
    deployment = named("Deployment", "webfaq-worker")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for service in by_kind("Service"):
        assert service["spec"]["selector"].items() <= labels.items()
    for budget in by_kind("PodDisruptionBudget"):
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


# --- systemd ---------------------------------------------------------------------------------
def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((SYSTEMD / name).read_text())
    return parser


def test_systemd_worker_unit_runs_the_worker_and_stops_in_bounded_time():
    worker = unit("webfaq-worker@.service")
    assert {"Unit", "Service", "Install"} <= set(worker.sections())
    service = worker["Service"]
    assert_cli_accepts(shlex.split(service["ExecStart"]))
    assert service["KillSignal"] == "SIGTERM"
    assert float(service["TimeoutStopSec"]) > Settings().shutdown_grace_s
    assert "WEBFAQ_WEB_PORT=%i" in service["Environment"]
    assert service["User"] != "root" and service["NoNewPrivileges"] == "yes"
    assert worker["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_release_timer_starts_the_release_service():
    release, timer = unit("webfaq-release.service"), unit("webfaq-release.timer")
    assert release["Service"]["Type"] == "oneshot"
    assert_cli_accepts(shlex.split(release["Service"]["ExecStart"]))
    assert timer["Timer"]["Unit"] == "webfaq-release.service"
    assert timer["Timer"]["OnCalendar"] and timer["Install"]["WantedBy"] == "timers.target"


def test_dockerfile_exposes_the_web_port_and_runs_as_non_root():
    text = (DEPLOY / "Dockerfile").read_text()
    assert f"EXPOSE {Settings().web_port}" in text
    assert "USER 10001" in text and 'ENTRYPOINT ["webfaq-stream"]' in text


# --- the OWI follower beside the worker ----------------------------------------------------------
def test_the_procfile_runs_the_worker_the_releases_and_the_follower():
    processes = dict(line.split(": ", 1) for line in (DEPLOY.parent / "Procfile").read_text().splitlines() if line)
    assert set(processes) == {"worker", "release", "follow"}
    for command in processes.values():
        assert_cli_accepts(shlex.split(command))
    follow = build_parser().parse_args(shlex.split(processes["follow"])[1:])
    assert follow.follow == "" and not follow.paths  # the directory comes from WEBFAQ_FOLLOW_DIR


def test_compose_runs_one_follower_on_the_owilix_cache_with_a_durable_cursor(compose, monkeypatch, tmp_path):
    follow = compose["services"]["follow"]
    assert_cli_accepts(["webfaq-stream", *follow["command"]])
    settings = assert_settings_load(follow["environment"], monkeypatch, tmp_path)
    mounts = {volume.removesuffix(":ro").rsplit(":", 1)[1]: volume for volume in follow["volumes"]}
    assert mounts[str(settings.follow_dir)].endswith(":ro")
    cursor_volume = mounts[str(settings.follow_cursor.parent)].rsplit(":", 1)[0]
    assert cursor_volume in compose["volumes"]
    assert follow.get("deploy", {}).get("replicas", 1) == 1 and "ports" not in follow


def test_k8s_follower_is_one_pod_with_the_cache_read_only_and_the_cursor_on_a_claim(monkeypatch, tmp_path):
    deployment = named("Deployment", "webfaq-follow")
    (configmap,) = by_kind("ConfigMap")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert_cli_accepts(container["command"])
    env = {var["name"]: var["value"] for var in container["env"] if "value" in var}
    secrets = {var["name"]: "from-the-secret" for var in container["env"] if "valueFrom" in var}
    settings = assert_settings_load({**configmap["data"], **env, **secrets, "WEBFAQ_QDRANT_API_KEY": "x"},
                                    monkeypatch, tmp_path)
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    cache = mounts[str(settings.follow_dir)]
    assert cache["readOnly"] is True and "persistentVolumeClaim" in volumes[cache["name"]]
    state = mounts[str(settings.follow_cursor.parent)]
    assert not state.get("readOnly") and "persistentVolumeClaim" in volumes[state["name"]]
    assert spec["terminationGracePeriodSeconds"] >= 30


def test_systemd_follower_unit_runs_the_follower_with_its_cursor_in_the_state_directory(monkeypatch, tmp_path):
    follow = unit("webfaq-follow.service")["Service"]
    assert_cli_accepts(shlex.split(follow["ExecStart"]))
    env = dict(item.split("=", 1) for item in shlex.split(follow["Environment"]))
    settings = assert_settings_load(env, monkeypatch, tmp_path)
    assert str(settings.follow_cursor).startswith(follow["ReadWritePaths"])
    assert str(settings.follow_dir).startswith(follow["ReadOnlyPaths"])
    assert follow["KillSignal"] == "SIGTERM" and follow["Restart"] == "on-failure"
