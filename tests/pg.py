"""A throwaway PostgreSQL server for the test session (initdb + pg_ctl, loopback only)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time


def _bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise RuntimeError(
            f"PostgreSQL's {name} was not found: install the server (apt-get install postgresql)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestServer:
    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="aksi-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = _free_port()
        # PostgreSQL refuses to run as root; run it as the postgres user then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def _run(self, *cmd: str) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, capture_output=True, cwd="/")

    def start(self) -> str:
        self._run(_bin("initdb"), "-D", self.data, "-U", "aksi", "-A", "trust", "-E", "UTF8")
        self._run(
            _bin("pg_ctl"),
            "-D",
            self.data,
            "-w",
            "-l",
            os.path.join(self.root, "log"),
            "-o",
            f"-p {self.port} -k {self.root} -h 127.0.0.1 -F",
            "start",
        )
        self._run(_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "aksi", "aksi")
        return f"postgresql+psycopg://aksi@127.0.0.1:{self.port}/aksi"

    def stop(self) -> None:
        try:
            self._run(_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        finally:
            time.sleep(0.1)
            shutil.rmtree(self.root, ignore_errors=True)
