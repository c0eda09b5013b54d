"""A throw-away PostgreSQL cluster on a loopback port, for the scale-out suites.

Uses Debian's server binaries (`postgresql` package; `.ci/run` installs it). As root, the cluster
runs as the `postgres` system user, since PostgreSQL refuses to run as root.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


def find_bin(name):
    found = shutil.which(name)
    if found:
        return found
    for path in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return path
    return None


def available():
    """None when a cluster can be started here, else why not."""
    missing = [n for n in ("initdb", "pg_ctl", "psql") if not find_bin(n)]
    if missing:
        return f"PostgreSQL server binaries not found ({', '.join(missing)}); install Debian's postgresql"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="ossd-pg-"))
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def run(self, *cmd, check=True):
        return subprocess.run([*self.as_user, *cmd], check=check, capture_output=True, text=True, timeout=120)

    def start(self):
        data = self.dir / "data"
        self.run(find_bin("initdb"), "-D", str(data), "-U", "ossd", "--auth=trust", "--locale=C",
                 "-E", "UTF8")
        return self.resume()

    def resume(self):
        """Starts the server on the existing cluster (after `pause`)."""
        # Tests need no durability from it; the benchmark asks for the real thing.
        fsync = "on" if os.environ.get("OSSD_PG_FSYNC") == "on" else "off"
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync={fsync} -c max_connections=200"
        self.run(find_bin("pg_ctl"), "-D", str(self.dir / "data"), "-o", opts, "-l", str(self.dir / "log"), "-w",
                 "start")
        return self

    def pause(self):
        """Stops the server (clients see it down), keeping its data for `resume`."""
        self.run(find_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop", check=False)

    def psql(self, sql, db="postgres"):
        r = subprocess.run([find_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "ossd", "-d", db,
                            "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr}")
        return r.stdout

    def new_database(self):
        name = "ossd_" + uuid.uuid4().hex[:12]
        self.psql(f"CREATE DATABASE {name}")
        return name

    def url(self, db):
        return f"postgres://ossd@127.0.0.1:{self.port}/{db}"

    def stop(self):
        self.run(find_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
