"""A private PostgreSQL cluster under a folder of our own (never the system cluster on 5432).

Uses the Debian binaries in /usr/lib/postgresql/<version>/bin, which devtools/install-system-deps.sh
installs (this module never installs packages). PostgreSQL refuses to run as root, so as root
initdb/pg_ctl run as the ``postgres`` OS user through ``runuser`` and the cluster folder is chowned to it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import pwd
import re
import stat
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from devtools.localinfra.logfields import field_log
from devtools.localinfra.server import LocalServer
from devtools.logfiles import tail
from devtools.ports import port_open

_log = field_log(__name__)


PG_OS_USER = "postgres"
SUPERUSER = "postgres"
DEFAULT_DATABASE = "qualitywatch"
FALLBACK_ROOT = Path("/var/tmp/qualitywatch-postgres")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class PostgresInfraError(RuntimeError):
    """The local PostgreSQL cluster could not be installed, started or reached."""


def _version_key(bin_dir: str) -> tuple[int, ...]:
    version = Path(bin_dir).parent.name
    return tuple(int(p) for p in version.split(".") if p.isdigit()) or (0,)


def find_pg_bin() -> Path | None:
    """Newest /usr/lib/postgresql/*/bin that has initdb, or None."""
    dirs = [d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.path.isfile(os.path.join(d, "initdb"))]
    if not dirs:
        return None
    return Path(max(dirs, key=_version_key))


def _traversable_by(path: Path, uid: int, gid: int) -> bool:
    """True if user uid/gid can reach path (x permission on every ancestor directory)."""
    for ancestor in reversed(path.parents):
        try:
            st = ancestor.stat()
        except FileNotFoundError:
            return True  # created later by us with the default (world-traversable) mode
        if st.st_uid == uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid == gid:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            return False
    return True


class LocalPostgres(LocalServer):
    """A PostgreSQL cluster on 127.0.0.1:<port> with role ``user`` and database ``qualitywatch``."""

    def __init__(self, home: Path, port: int = 55432, user: str = "qw", password: str = "qw") -> None:
        if not _IDENT.match(user):
            raise ValueError(f"invalid role name {user!r}")
        self.home = Path(home).resolve()
        self.port = port
        self.user = user
        self.password = password
        self._bin: Path | None = None
        self._base: Path | None = None

    # -- installation ----------------------------------------------------------

    def ensure_installed(self) -> Path:
        """Return the PostgreSQL bin dir; fail with the install command when the server is not installed."""
        if self._bin is not None:
            return self._bin
        found = find_pg_bin()
        if found is None:
            raise PostgresInfraError(
                "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin. Install them with "
                "devtools/install-system-deps.sh (or `apt-get install -y postgresql`), then retry."
            )
        self._bin = found
        return found

    # -- layout ----------------------------------------------------------------

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    @property
    def base(self) -> Path:
        """Folder holding data/, the socket and the log: home, or a fallback if root's home is private."""
        if self._base is None:
            self._base = self._choose_base()
        return self._base

    def _choose_base(self) -> Path:
        if not self.as_root:
            return self.home
        pw = pwd.getpwnam(PG_OS_USER)
        if _traversable_by(self.home, pw.pw_uid, pw.pw_gid):
            return self.home
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:16]
        fallback = FALLBACK_ROOT / digest
        _log(
            logging.WARNING,
            "postgres user cannot reach home; keeping the cluster in a fallback folder",
            {"home": str(self.home), "base": str(fallback)},
        )
        return fallback

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base / "run"

    @property
    def log_file(self) -> Path:
        return self.base / "postgres.log"

    def _prepare_dirs(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            self._ensure_os_user()
        base = self.base
        for path in (base, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        if base != self.home:
            (self.home / "CLUSTER_LOCATION").write_text(f"{base}\n")
        if self.as_root:
            pw = pwd.getpwnam(PG_OS_USER)
            for path in (base, self.socket_dir, self.data_dir, self.log_file):
                if path.exists():
                    os.chown(path, pw.pw_uid, pw.pw_gid)

    @staticmethod
    def _ensure_os_user() -> None:
        try:
            pwd.getpwnam(PG_OS_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--user-group", "--home-dir", "/var/lib/postgresql",
                 "--shell", "/bin/bash", PG_OS_USER],
                check=True,
            )

    # -- commands --------------------------------------------------------------

    def _run(self, tool: str, *args: str, check: bool = True, timeout: float = 120, detach: bool = False,
             ) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.ensure_installed() / tool), *args]
        if self.as_root:
            cmd = ["runuser", "-u", PG_OS_USER, "--", *cmd]
        # pg_ctl's postmaster inherits the session: give it its own so a Ctrl-C to pytest doesn't reach it.
        # Its output goes to the -l log file; no pipes are held open by the detached server.
        if detach:
            result = subprocess.run(cmd, cwd=self.base, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, text=True, timeout=timeout, check=False,
                                    start_new_session=True)
        else:
            result = subprocess.run(cmd, cwd=self.base, stdin=subprocess.DEVNULL, capture_output=True,
                                    text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise PostgresInfraError(
                f"{tool} {' '.join(args)} failed (rc={result.returncode}):\n{result.stdout or ''}\n"
                f"{result.stderr or ''}\nlog tail:\n{tail(self.log_file, 30)}"
            )
        return result

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").is_file():
            return
        started = time.monotonic()
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "-E", "UTF8", "--locale=C",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions",
        )
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\ninclude_if_exists = 'qualitywatch.conf'\n")
        seconds = round(time.monotonic() - started, 1)
        _log(logging.INFO, "postgres cluster initialised", {"data_dir": str(self.data_dir), "seconds": seconds})

    def _write_conf(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            "max_connections": "200",
            "shared_buffers": "128MB",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        conf = self.data_dir / "qualitywatch.conf"
        conf.write_text("# written by devtools.localinfra.postgres\n"
                        + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        if self.as_root:
            pw = pwd.getpwnam(PG_OS_USER)
            os.chown(conf, pw.pw_uid, pw.pw_gid)

    # -- lifecycle -------------------------------------------------------------

    def running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").is_file():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def start(self, timeout: float = 30) -> None:
        self.ensure_installed()
        self._prepare_dirs()
        self._initdb()
        if self.running():
            _log(logging.INFO, "reusing running postgres", {"port": self.port, "data_dir": str(self.data_dir)})
        else:
            if port_open(self.port):
                raise PostgresInfraError(f"port {self.port} is already in use by another process")
            self._write_conf()
            self._run(
                "pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file),
                "-w", "-t", str(int(timeout)), timeout=timeout + 10, detach=True, check=False,
            )
            if not self.running():
                raise PostgresInfraError(f"postgres did not start; log tail:\n{tail(self.log_file, 30)}")
            _log(logging.INFO, "postgres started", {"port": self.port, "data_dir": str(self.data_dir)})
        self._bootstrap_role()

    def stop(self, mode: str = "fast") -> None:
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"invalid stop mode {mode!r}")
        if not self.running():
            return
        self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", timeout=90)
        _log(logging.INFO, "postgres stopped", {"port": self.port, "mode": mode})

    def restart(self) -> None:
        self.stop("fast")
        self.start()

    # -- roles, databases, urls ------------------------------------------------

    def superuser_connect(self, dbname: str = "postgres"):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname=dbname,
                               autocommit=True, connect_timeout=10)

    def _bootstrap_role(self) -> None:
        from psycopg import sql

        with self.superuser_connect() as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.user,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(sql.SQL(verb + " ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                sql.Identifier(self.user), sql.Literal(self.password)))
            has_db = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DEFAULT_DATABASE,)
            ).fetchone()
            if not has_db:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DEFAULT_DATABASE), sql.Identifier(self.user)))

    def url(self, database: str = DEFAULT_DATABASE) -> str:
        return (f"postgresql+psycopg://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
                f"@127.0.0.1:{self.port}/{database}")

    def create_database(self, name: str) -> str:
        """(Re)create an empty database owned by the role; returns its SQLAlchemy URL."""
        from psycopg import sql

        if not _IDENT.match(name):
            raise ValueError(f"invalid database name {name!r}")
        with self.superuser_connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                sql.Identifier(name), sql.Identifier(self.user)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with contextlib.suppress(Exception), self.superuser_connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def __repr__(self) -> str:
        return f"LocalPostgres(home={str(self.home)!r}, port={self.port})"
