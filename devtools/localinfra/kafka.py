"""A real Apache Kafka broker (single combined KRaft node) run from Maven Central jars, no Docker.

The jars are fetched once with Maven (``deploy/local/kafka/pom.xml`` in the checkout) into a per-user
cache and then started with ``java -cp '<jars>/*' kafka.Kafka server.properties``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from devtools.checkout import repo_path
from devtools.localinfra.logfields import field_log
from devtools.localinfra.server import LocalServer
from devtools.logfiles import tail
from devtools.ports import port_open
from shared.kafka import ensure_topics

_log = field_log(__name__)


KAFKA_VERSION = "4.1.1"
MARKER_NAME = ".complete"


class KafkaInfraError(RuntimeError):
    """The local broker could not be prepared, started or reached."""


def default_jars_dir() -> Path:
    return Path.home() / ".cache" / "qualitywatch" / f"kafka-{KAFKA_VERSION}"


def pom_file() -> Path:
    """The Maven project listing the broker jars (deploy/local/kafka/pom.xml in the checkout)."""
    return repo_path("deploy", "local", "kafka", "pom.xml")


def log4j_file() -> Path:
    return repo_path("deploy", "local", "kafka", "log4j2.yaml")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


def find_java() -> Path:
    java_home = os.environ.get("JAVA_HOME")
    candidates = [Path(java_home) / "bin" / "java"] if java_home else []
    which = shutil.which("java")
    if which:
        candidates.append(Path(which))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise KafkaInfraError(
        "No java found (JAVA_HOME/bin/java or java on PATH). Kafka 4.x needs Java 17+: "
        "run devtools/install-system-deps.sh (as root)"
    )


def new_cluster_id() -> str:
    """Same format as ``kafka-storage.sh random-uuid`` (base64url of 16 random bytes, no '-' first)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


class LocalKafka(LocalServer):
    """One local Kafka broker+controller listening on 127.0.0.1; usable as a context manager."""

    def __init__(
        self,
        home: Path,
        port: int = 9092,
        controller_port: int = 9093,
        jars_dir: Path | None = None,
        heap_mb: int = 512,
        partitions: int = 6,
    ) -> None:
        self.home = Path(home).resolve()
        self.port = port
        self.controller_port = controller_port
        self.jars_dir = Path(jars_dir) if jars_dir else default_jars_dir()
        self.heap_mb = heap_mb
        self.partitions = partitions
        self._proc: subprocess.Popen[bytes] | None = None

    # -- paths -----------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    # -- jars ------------------------------------------------------------------

    def _pom_digest(self) -> str:
        pom = pom_file()
        if not pom.is_file():
            raise KafkaInfraError(f"Missing {pom}; it lists the broker jars to fetch")
        return hashlib.sha256(pom.read_bytes()).hexdigest()

    def _jars_complete(self, digest: str) -> bool:
        marker = self.jars_dir / MARKER_NAME
        return marker.is_file() and marker.read_text().strip() == digest

    def ensure_jars(self) -> Path:
        """Fetch the broker jars with Maven once; later calls need no network."""
        digest = self._pom_digest()
        if self._jars_complete(digest):
            return self.jars_dir
        self.jars_dir.parent.mkdir(parents=True, exist_ok=True)
        with self._jars_lock():
            if not self._jars_complete(digest):
                self._fetch_jars(digest)
        return self.jars_dir

    @contextlib.contextmanager
    def _jars_lock(self) -> Iterator[None]:
        lock_path = self.jars_dir.parent / f".{self.jars_dir.name}.lock"
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _fetch_jars(self, digest: str) -> None:
        mvn = shutil.which("mvn")
        if not mvn:
            raise KafkaInfraError("Maven (mvn) not found; run devtools/install-system-deps.sh (as root), "
                                  "or pre-fill jars_dir")
        staging = Path(tempfile.mkdtemp(prefix=f".{self.jars_dir.name}-", dir=self.jars_dir.parent))
        cmd = [
            mvn, "-B", "-q", "-f", str(pom_file()), "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        ]
        _log(logging.INFO, "fetching kafka jars", {"cmd": " ".join(cmd), "dest": str(self.jars_dir)})
        started = time.monotonic()
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            raise KafkaInfraError(
                f"maven could not fetch the Kafka jars (rc={result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        (staging / MARKER_NAME).write_text(digest + "\n")
        shutil.rmtree(self.jars_dir, ignore_errors=True)
        staging.rename(self.jars_dir)
        seconds = round(time.monotonic() - started, 1)
        _log(logging.INFO, "kafka jars ready", {"dest": str(self.jars_dir), "seconds": seconds})

    # -- config and storage ----------------------------------------------------

    def server_properties(self) -> dict[str, str]:
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": str(self.partitions),
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "6",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # After kill -9 the controller refuses the restarted broker's registration until the old
            # session expires (default 9 s); a short session makes fault drills restart in seconds.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "log.retention.hours": "168",
            "delete.topic.enable": "true",
        }

    def write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        lines = [f"{key}={value}" for key, value in self.server_properties().items()]
        self.config_file.write_text("# written by devtools.localinfra.kafka\n" + "\n".join(lines) + "\n")
        return self.config_file

    def _java_base(self, heap_mb: int) -> list[str]:
        return [
            str(find_java()),
            f"-Xms{heap_mb}m",
            f"-Xmx{heap_mb}m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j_file()}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp",
            f"{self.jars_dir}/*",
        ]

    def format_storage(self) -> None:
        """Format the KRaft log dir once (idempotent: skipped when meta.properties exists)."""
        if (self.data_dir / "meta.properties").is_file():
            return
        cluster_file = self.home / "cluster.id"
        if not cluster_file.is_file():
            cluster_file.write_text(new_cluster_id() + "\n")
        cluster_id = cluster_file.read_text().strip()
        cmd = self._java_base(128) + [
            "kafka.tools.StorageTool", "format", "-t", cluster_id,
            "-c", str(self.config_file), "--ignore-formatted",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaInfraError(f"kafka storage format failed:\n{result.stdout}\n{result.stderr}")
        _log(logging.INFO, "kafka storage formatted", {"cluster_id": cluster_id, "dir": str(self.data_dir)})

    # -- process ---------------------------------------------------------------

    def _recorded_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return self._recorded_pid() is not None

    def start(self, timeout: float = 60) -> None:
        find_java()
        if self._reuse_running(timeout):
            return
        if port_open(self.port) or port_open(self.controller_port):
            raise KafkaInfraError(
                f"port {self.port} or {self.controller_port} is already in use by a process not started "
                f"from {self.home}; stop it or pick other ports"
            )
        self.ensure_jars()
        self.write_config()
        self.format_storage()
        self._spawn()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _reuse_running(self, timeout: float) -> bool:
        if self._proc is not None and self._proc.poll() is None:
            return True
        pid = self._recorded_pid()
        if pid is None:
            return False
        _log(logging.INFO, "reusing running kafka broker", {"pid": pid, "bootstrap": self.bootstrap})
        self.wait_ready(timeout)
        return True

    def _spawn(self) -> None:
        cmd = self._java_base(self.heap_mb) + ["kafka.Kafka", str(self.config_file)]
        with open(self.log_file, "ab") as log:
            log.write(f"\n==== starting kafka {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        _log(logging.INFO, "kafka broker spawned", {"pid": self._proc.pid, "bootstrap": self.bootstrap})

    def _current_pid(self) -> int | None:
        if self._proc is not None:
            return self._proc.pid if self._proc.poll() is None else None
        return self._recorded_pid()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._current_pid() is None:
                raise KafkaInfraError(f"kafka broker exited during startup; log tail:\n{tail(self.log_file)}")
            if port_open(self.port):
                try:
                    self._probe(max(1.0, deadline - time.monotonic()))
                    _log(logging.INFO, "kafka broker ready", {"bootstrap": self.bootstrap})
                    return
                except Exception as exc:  # noqa: BLE001 - any client error means "not ready yet"
                    last_error = exc
            time.sleep(0.2)
        raise KafkaInfraError(
            f"kafka broker not ready on {self.bootstrap} after {timeout:.0f}s (last error: {last_error!r}); "
            f"log tail:\n{tail(self.log_file)}"
        )

    def _probe(self, timeout: float) -> None:
        timeout_ms = int(min(timeout, 5.0) * 1000)
        with self.admin(bootstrap_timeout_ms=timeout_ms, request_timeout_ms=timeout_ms) as admin:
            admin.list_topics()

    def admin(self, **configs: object):  # -> kafka.KafkaAdminClient
        from kafka import KafkaAdminClient

        configs.setdefault("client_id", "qw-localinfra")
        return KafkaAdminClient(bootstrap_servers=self.bootstrap, **configs)

    def stop(self, timeout: float = 30) -> None:
        pid = self._current_pid()
        if pid is None:
            self._forget()
            return
        _log(logging.INFO, "stopping kafka broker", {"pid": pid})
        self._signal_group(pid, signal.SIGTERM)
        if not self._wait_exit(pid, timeout):
            _log(logging.WARNING, "kafka broker ignored SIGTERM; killing", {"pid": pid})
            self._signal_group(pid, signal.SIGKILL)
            self._wait_exit(pid, 10)
        self._forget()

    def kill(self) -> None:
        """SIGKILL the broker (fault drills); the data stays and start() recovers it."""
        pid = self._current_pid()
        if pid is not None:
            _log(logging.INFO, "killing kafka broker", {"pid": pid})
            self._signal_group(pid, signal.SIGKILL)
            self._wait_exit(pid, 10)
        self._forget()

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            try:
                self._proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.1)
        return False

    def _forget(self) -> None:
        self._proc = None
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()

    # -- topics ----------------------------------------------------------------

    def create_topics(self, topics: dict[str, int], timeout: float = 30) -> None:
        """Create topics (name -> partitions, replication 1); existing ones are left as they are."""
        if topics:
            ensure_topics(self.bootstrap, topics, timeout=timeout)

    def __repr__(self) -> str:
        return f"LocalKafka(home={str(self.home)!r}, bootstrap={self.bootstrap!r})"
