"""A throw-away PostgreSQL server for tests and benchmarks (Debian's ``postgresql`` package).

:func:`temporary_postgres` runs ``initdb`` and ``pg_ctl`` from the newest
``/usr/lib/postgresql/*/bin`` (or ``$PATH``) in a fresh temporary folder, listening on
127.0.0.1 at a free port with its Unix socket inside that folder (so it never meets a
system server), creates one database, yields its URL, and stops the server and deletes
the folder on exit. PostgreSQL refuses to run as root, so as root the server runs as
the ``postgres`` user the package creates (via ``runuser``), owning the folder.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PostgresUnavailable", "find_postgres_bin", "temporary_postgres"]


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server programs are not installed, or cannot run here."""


def find_postgres_bin() -> Path | None:
    """Return the folder holding ``initdb`` and ``pg_ctl`` (newest version), if any."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> tuple[list[str], pwd.struct_passwd | None]:
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "running as root, and PostgreSQL refuses root: the 'postgres' user (created "
            "by Debian's postgresql package) is missing"
        ) from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and `runuser` is missing")
    return [runuser, "-u", "postgres", "--"], user


def _run(command: Sequence[str], what: str, log: Path | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        if log is not None and log.exists():
            detail += "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise PostgresUnavailable(f"{what} failed ({done.returncode}): {detail}")


@contextmanager
def temporary_postgres(
    *,
    database: str = "arena",
    durable: bool = True,
    settings: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run a private PostgreSQL server; yield ``postgresql+psycopg://`` URL of one database.

    Parameters
    ----------
    database:
        Name of the database created for the caller (user ``arena``, no password).
    durable:
        False turns off ``fsync`` and synchronous commit: much faster, fine for tests
        that never survive a crash. Benchmarks keep the default, as in production.
    settings:
        Extra server settings (``name -> value``).

    Raises
    ------
    PostgresUnavailable
        No PostgreSQL binaries, or the server did not start (the message has its log).
    """
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found under "
            "/usr/lib/postgresql/*/bin or on PATH: `apt-get install postgresql`"
        )
    prefix, user = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="arena-pg-"))
    data, log = root / "data", root / "server.log"
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    port = _free_port()
    options: dict[str, str] = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(root),
        "max_connections": "200",
        "shared_buffers": "128MB",
    }
    if not durable:
        options.update(fsync="off", synchronous_commit="off", full_page_writes="off")
    options.update(settings or {})
    started = False
    try:
        _run(
            [
                *prefix,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "arena",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            "initdb",
        )
        server_options = " ".join(f"-c {k}={v}" for k, v in options.items())
        _run(
            [
                *prefix,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                server_options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            "pg_ctl start",
            log,
        )
        started = True
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host="127.0.0.1", port=port, user="arena", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        yield f"postgresql+psycopg://arena@127.0.0.1:{port}/{database}"
    finally:
        if started:
            subprocess.run(
                [
                    *prefix,
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
                check=False,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)
