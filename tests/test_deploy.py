"""The deployment artifacts, checked without a container engine or a cluster: the Dockerfile
linted (hadolint), the entrypoint script run for real against a stub `deskbot`, every manifest
validated against the Kubernetes schemas, and every setting present in the manifests."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr

from bot.settings import Settings

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
ENTRYPOINT = DEPLOY / "docker" / "entrypoint.sh"
K8S = DEPLOY / "k8s"
TOOLS = Path(sys.executable).parent  # hadolint and shellcheck come with the test extra
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")  # the oldest we support and the newest schemas

# Contract names (design.md) and settings being added elsewhere, which the manifests carry
# before bot/settings.py does (unknown names are ignored by Settings until then).
PLANNED = {
    "DESKBOT_ENCODER_BACKEND",
}
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "DATABASE_URL")


def setting_names() -> dict[str, bool]:
    """Each setting's environment name -> whether it is a secret."""
    names = {}
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        assert alias is not None and not isinstance(alias, str)
        (name,) = alias.choices
        secret = "SecretStr" in str(field.annotation) or field.annotation is SecretStr
        names[str(name)] = secret or any(w in str(name).upper() for w in SECRET_WORDS)
    return names


def known_names() -> dict[str, bool]:
    planned = {n: any(w in n for w in SECRET_WORDS) for n in PLANNED}
    return {**planned, **setting_names()}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), split by stage."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    stages: list[list[str]] = []
    for line in lines:
        if line.startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


# -- the image -------------------------------------------------------------------------------


def lint(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOOLS / tool), *args], capture_output=True, text=True, check=False)


def test_dockerfile_passes_hadolint() -> None:
    result = lint("hadolint", "--failure-threshold=style", "--format=json", str(DOCKERFILE))
    assert result.returncode == 0, json.loads(result.stdout or "[]") or result.stderr
    assert json.loads(result.stdout) == []


def test_image_builds_cpu_torch_as_the_makefile_pins_it_and_runs_unprivileged() -> None:
    build, run = dockerfile_stages()
    makefile_torch = re.search(r"pip install .*(torch==[\d.]+)", (ROOT / "Makefile").read_text())
    assert makefile_torch is not None
    torch = next(i for i in build if "torch==" in i)
    assert makefile_torch.group(1) in torch.split()
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch
    assert any("--constraint constraints.txt ." in i for i in build)
    assert all(i.startswith("FROM python:3.11-slim") for i in (build[0], run[0]))

    # the final stage: no compilers, offline, non-root, probed, tini as PID 1 running the script
    final = " ".join(run)
    assert not re.search(r"\b(gcc|g\+\+|build-essential|make|git|curl)\b", final)
    assert "HF_HUB_OFFLINE=1" in final
    user = next(i for i in run if i.startswith("USER "))
    assert user.split()[1].split(":")[0] not in ("0", "root")
    assert re.search(r"HEALTHCHECK .*/healthz", final)
    entrypoint = json.loads(next(i for i in run if i.startswith("ENTRYPOINT ")).split(" ", 1)[1])
    assert entrypoint[:2] == ["tini", "--"]
    assert any(i.startswith("COPY") and "deploy/docker/entrypoint.sh" in i for i in run)
    assert "EXPOSE 8080" in run


def test_build_context_keeps_secrets_out_and_what_the_image_copies_in() -> None:
    patterns = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]

    def excluded(path: str) -> bool:  # Docker's rule: the last matching pattern decides
        verdict = False
        for pattern in patterns:
            negated = pattern.startswith("!")
            bare = pattern.lstrip("!").rstrip("/")
            matches = fnmatch.fnmatchcase(path, bare) or path.startswith(bare + "/")
            if bare.startswith("**/"):
                matches = any(fnmatch.fnmatchcase(part, bare[3:]) for part in Path(path).parts)
            if matches:
                verdict = not negated
        return verdict

    sources = [
        part
        for instruction in dockerfile_stages()[0] + dockerfile_stages()[1]
        if instruction.startswith("COPY ") and "--from=" not in instruction
        for part in instruction.split()[1:-1]
        if not part.startswith("--")
    ]
    assert sources and not [s for s in sources if excluded(s)]
    assert excluded("bot/__init__.py") is False and excluded("retrieval/index.py") is False
    private = [".env", "bot/.env", ".venv/bin/python", "deskbot.db", "tests/conftest.py"]
    private += ["deskbot-spool.jsonl", ".git/config", "bot/__pycache__/db.cpython-311.pyc"]
    assert [p for p in private if not excluded(p)] == []


@pytest.mark.slow
def test_the_build_warm_up_step_runs_on_this_code(tmp_path: Path) -> None:
    """The warm-up command the image build runs: it must keep working as the code moves."""
    warm = next(i for i in dockerfile_stages()[0] if 'python -c "' in i)
    code = re.search(r'python -c "([^"]+)"', warm)
    assert code is not None
    backends = re.search(r'ARG ENCODER_BACKENDS="([^"]+)"', " ".join(dockerfile_stages()[0]))
    assert backends is not None and "torch" in backends.group(1).split()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DESKBOT_ENCODER_BACKEND": "torch"}
    subprocess.run([sys.executable, "-c", code.group(1)], cwd=tmp_path, env=env, check=True)


# -- the entrypoint script, in a fresh virtual environment with a stub deskbot ----------------

STUB = """\
import json, os, signal, sys
record = {"argv": sys.argv[1:], "pid": os.getpid(), "port": os.environ.get("PORT")}
if sys.argv[1:2] == ["migrate"] and os.environ.get("STUB_MIGRATE_FAILS"):
    print(json.dumps({**record, "exit": 3}), flush=True)
    sys.exit(3)
if sys.argv[1:2] == ["serve"]:
    def stop(signum, frame):  # unbuffered: the signal may come while the line above flushes
        got = {"signal": signal.Signals(signum).name, "pid": os.getpid()}
        os.write(1, (json.dumps(got) + "\\n").encode())
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    print(json.dumps(record), flush=True)
    signal.pause()
print(json.dumps(record), flush=True)
"""


@pytest.fixture(scope="module")
def stub_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PATH for the script: a new virtual environment whose `deskbot` records its arguments
    and process id, and the system's basic tools; nothing of the developer's environment."""
    env_dir = tmp_path_factory.mktemp("entrypoint") / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    stub = env_dir / "bin" / "deskbot"
    stub.write_text(f"#!{env_dir / 'bin' / 'python'}\n{STUB}")
    stub.chmod(0o755)
    return f"{env_dir / 'bin'}:/usr/bin:/bin"


@contextlib.contextmanager
def start(path: str, *args: str, **env: str) -> Iterator[subprocess.Popen[str]]:
    """The script as a container runtime starts it: its own process, only the given settings.
    Whatever it started is killed after 20 s, so a script that hangs fails instead."""
    with subprocess.Popen(
        [str(ENTRYPOINT), *args],
        env={"PATH": path, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        watchdog = threading.Timer(20, kill_group, (process.pid,))
        watchdog.start()
        try:
            yield process
        finally:
            watchdog.cancel()
            kill_group(process.pid)


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def calls(process: subprocess.Popen[str], until_serving: bool) -> list[dict[str, Any]]:
    """The stub's records, read until `deskbot serve` is up (or until the script ended)."""
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(json.loads(line))
        if until_serving and seen[-1]["argv"][:1] == ["serve"]:
            break
    return seen


def stop(process: subprocess.Popen[str]) -> dict[str, Any]:
    """SIGTERM to the process the container runtime started: it must be deskbot itself."""
    assert process.stdout is not None
    process.send_signal(signal.SIGTERM)
    line = process.stdout.readline()
    assert line, "deskbot never got the SIGTERM"
    record: dict[str, Any] = json.loads(line)
    assert process.wait(timeout=10) == 0
    return record


def test_entrypoint_passes_shellcheck() -> None:
    result = lint("shellcheck", "--shell=sh", "--severity=style", str(ENTRYPOINT))
    assert result.returncode == 0, result.stdout
    assert os.access(ENTRYPOINT, os.X_OK)


def test_entrypoint_serves_on_all_addresses_and_port_8080_by_default(stub_path: str) -> None:
    with start(stub_path) as process:
        (serve,) = calls(process, until_serving=True)
        assert serve["argv"] == ["serve", "--host", "0.0.0.0", "--port", "8080"]
        assert serve["pid"] == process.pid  # exec'd: deskbot is the process that gets signals
        assert stop(process) == {"signal": "SIGTERM", "pid": process.pid}


def test_entrypoint_migrates_first_when_asked_then_serves_on_port(stub_path: str) -> None:
    options = {"DESKBOT_MIGRATE_ON_START": "True", "PORT": "9000"}
    with start(stub_path, "serve", "--import-kb", **options) as process:
        migrate, serve = calls(process, until_serving=True)
        assert migrate["argv"] == ["migrate"] and migrate["pid"] != process.pid
        assert serve["argv"] == ["serve", "--host", "0.0.0.0", "--port", "9000", "--import-kb"]
        assert serve["pid"] == process.pid
        assert stop(process)["signal"] == "SIGTERM"


def test_entrypoint_passes_options_alone_to_serve(stub_path: str) -> None:
    with start(stub_path, "--import-kb", DESKBOT_MIGRATE_ON_START="0") as process:
        (serve,) = calls(process, until_serving=True)
        assert serve["argv"] == ["serve", "--host", "0.0.0.0", "--port", "8080", "--import-kb"]
        stop(process)


def test_entrypoint_does_not_serve_when_the_migration_fails(stub_path: str) -> None:
    with start(stub_path, DESKBOT_MIGRATE_ON_START="yes", STUB_MIGRATE_FAILS="1") as process:
        seen = calls(process, until_serving=False)
        assert process.wait(timeout=10) == 3
        assert [c["argv"] for c in seen] == [["migrate"]]


def test_entrypoint_rejects_an_unclear_migrate_on_start(stub_path: str) -> None:
    with start(stub_path, DESKBOT_MIGRATE_ON_START="maybe") as process:
        assert calls(process, until_serving=False) == []
        assert process.wait(timeout=10) == 2
        assert process.stderr is not None
        assert "DESKBOT_MIGRATE_ON_START" in process.stderr.read()


@pytest.mark.parametrize(
    ("args", "argv"),
    [(["migrate"], ["migrate"]), (["deskbot", "kb", "import", "/kb"], ["kb", "import", "/kb"])],
)
def test_entrypoint_runs_a_migration_or_any_command_in_place(
    stub_path: str, args: list[str], argv: list[str]
) -> None:
    with start(stub_path, *args, DESKBOT_MIGRATE_ON_START="1") as process:  # serve only
        (call,) = calls(process, until_serving=False)
        assert process.wait(timeout=10) == 0
        assert call["argv"] == argv and call["pid"] == process.pid


# -- Kubernetes ------------------------------------------------------------------------------


def manifest_files() -> list[Path]:
    """Every file that is a whole resource (kustomizations and overlay patches are not)."""
    files = sorted(K8S.rglob("*.yaml"))
    return [
        f
        for f in files
        if f.name != "kustomization.yaml" and f.parent.name != "socket-mode"
    ]


def kustomize(folder: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (each file is still validated on its own)")
    built = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=True
    )
    return [d for d in yaml.safe_load_all(built.stdout) if d]


def validate(resource: dict[str, Any], where: str) -> None:
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{where}: {resource['kind']} at {path}: {exc.message} (k8s {version})")


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_each_manifest_is_valid_kubernetes(path: Path) -> None:
    for resource in yaml.safe_load_all(path.read_text()):
        validate(resource, str(path.relative_to(ROOT)))


@pytest.mark.parametrize("overlay", ["base", "migrate", "socket-mode"])
def test_each_kustomization_builds_valid_kubernetes(overlay: str) -> None:
    resources = kustomize(K8S / overlay)
    for resource in resources:
        validate(resource, f"kustomize {overlay}")
    kinds = {r["kind"] for r in resources}
    if overlay == "base":
        assert kinds == {
            "ConfigMap",
            "ServiceAccount",
            "Deployment",
            "Service",
            "Ingress",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
        }
    if overlay == "socket-mode":
        assert "Ingress" not in kinds
        env = container(next(r for r in resources if r["kind"] == "Deployment"))["env"]
        refs = {e["name"]: e["valueFrom"].get("secretKeyRef", {}) for e in env}
        required = {name for name, ref in refs.items() if ref.get("optional") is False}
        assert {"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "DESKBOT_DATABASE_URL"} <= required


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only  # type: ignore[no-any-return]


def deployment() -> dict[str, Any]:
    return load(K8S / "base" / "deployment.yaml")  # type: ignore[no-any-return]


def configmap_keys() -> tuple[set[str], set[str]]:
    """The ConfigMap's keys, and the keys it shows as commented examples."""
    text = (K8S / "base" / "configmap.yaml").read_text()
    examples = set(re.findall(r"^\s*#\s*([A-Za-z_]+):", text, flags=re.MULTILINE))
    return set(load(K8S / "base" / "configmap.yaml")["data"]), examples


def test_every_setting_reaches_the_pods_from_the_configmap_or_the_secret() -> None:
    env = {e["name"]: e["valueFrom"] for e in container(deployment())["env"]}
    names = known_names()
    assert set(env) >= set(setting_names()) | PLANNED, "a setting the Deployment does not pass"
    assert set(env) <= set(names), f"not a setting: {set(env) - set(names)}"
    data, examples = configmap_keys()
    secrets = set(load(K8S / "secret.example.yaml")["stringData"])
    for name, source in env.items():
        if names[name]:
            ref = source["secretKeyRef"]
            assert (ref["name"], ref["key"]) == ("deskbot-secrets", name)
            assert name in secrets, f"{name} is missing from secret.example.yaml"
        else:
            ref = source["configMapKeyRef"]
            assert (ref["name"], ref["key"]) == ("deskbot-config", name)
            assert name in data | examples, f"{name} is missing from the ConfigMap"
        # only the database is required; everything else keeps deskbot's default when unset
        assert ref["optional"] is (name != "DESKBOT_DATABASE_URL")
    assert data <= set(env) and examples <= set(env) and secrets <= set(env)
    assert not data & examples


def test_probes_grace_period_and_drain_agree() -> None:
    spec = deployment()["spec"]["template"]["spec"]
    main = container(deployment())
    (port,) = main["ports"]
    assert (port["name"], port["containerPort"]) == ("http", 8080)
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    drain = int(load(K8S / "base" / "configmap.yaml")["data"]["DESKBOT_DRAIN_SECONDS"])
    assert (drain, spec["terminationGracePeriodSeconds"]) == (25, 30)
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsNonRoot"] is True
    mounts = {m["mountPath"] for m in main["volumeMounts"]}
    assert {"/tmp", "/var/lib/deskbot"} <= mounts  # caches and the spool, on emptyDirs
    assert deployment()["spec"]["replicas"] == 2
    assert load(K8S / "base" / "hpa.yaml")["spec"]["minReplicas"] == 2
    (migrate,) = load(K8S / "migrate" / "job.yaml")["spec"]["template"]["spec"]["containers"]
    assert migrate["args"] == ["migrate"]


# -- compose ---------------------------------------------------------------------------------


def test_compose_runs_a_migration_then_two_replicas_behind_the_proxy() -> None:
    compose = load(DEPLOY / "compose.yaml")
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "deskbot-1", "deskbot-2", "proxy"}
    assert not any("redis" in str(s.get("image", "")) for s in services.values())
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    k8s_env = {e["name"] for e in container(deployment())["env"]}
    for name in ("deskbot-1", "deskbot-2"):
        replica = services[name]
        assert replica["command"] == ["serve"]
        assert replica["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert replica["read_only"] is True and replica["stop_grace_period"] == "30s"
        assert set(replica["environment"]) == k8s_env  # the same settings as the pods
        assert replica["environment"]["DESKBOT_DRAIN_SECONDS"] == "25"
        assert replica["environment"]["DESKBOT_DATABASE_URL"].startswith("postgresql://")
    assert services["deskbot-1"]["volumes"] != services["deskbot-2"]["volumes"]  # own spools
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert "reverse_proxy deskbot-1:8080 deskbot-2:8080" in caddy
    assert re.search(r"@internal path .*/metrics", caddy)
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]
