"""Runs a command with a throw-away PostgreSQL and SeaweedFS up, and OSSD_TEST_CLUSTER set so
that every OssdServer the tests start is two nodes on them (scripts/test's second pass).

    python with_cluster_services.py -- COMMAND [ARGS...]
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pg_server  # noqa: E402
import seaweed_server  # noqa: E402


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    why = pg_server.available() or seaweed_server.available()
    if why:
        print(f"cluster pass cannot run: {why}", file=sys.stderr)
        return 2
    pg = pg_server.PostgresServer().start()
    weed = None
    try:
        weed = seaweed_server.SeaweedServer().start()
        env = dict(os.environ)
        env["OSSD_TEST_CLUSTER"] = f"postgres://ossd@127.0.0.1:{pg.port}|{weed.endpoint}"
        env.setdefault("AWS_ACCESS_KEY_ID", "ossdtest")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "ossdtestsecret")
        print(f"cluster pass: PostgreSQL on 127.0.0.1:{pg.port}, SeaweedFS S3 on {weed.endpoint}", flush=True)
        return subprocess.call(argv, env=env)
    finally:
        if weed:
            weed.stop()
        pg.stop()


if __name__ == "__main__":
    sys.exit(main())
