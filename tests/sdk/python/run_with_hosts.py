"""Runs a Python script with some host names resolved to chosen loopback addresses, inside this
process only (like an /etc/hosts line or a container extra_hosts entry, without touching the
machine): the script itself stays unmodified.

    python run_with_hosts.py NAME=127.0.0.1:PORT [...] -- SCRIPT [ARGS...]

A mapped name resolves to the given address; a port given there replaces the one asked for, so
`http://NAME/...` (port 80) reaches a server on an ephemeral loopback port. Only loopback
addresses may be given: nothing leaves the machine.
"""

import ipaddress
import runpy
import socket
import sys


def main():
    sep = sys.argv.index("--")
    mapping = {}
    for spec in sys.argv[1:sep]:
        name, _, target = spec.partition("=")
        host, _, port = target.partition(":")
        if not ipaddress.ip_address(host).is_loopback:
            raise SystemExit(f"only loopback targets are allowed: {spec}")
        mapping[name.lower()] = (host, int(port) if port else None)
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        target = mapping.get(str(host).lower()) if host is not None else None
        if target is not None:
            host, port = target[0], target[1] if target[1] is not None else port
        return real_getaddrinfo(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    script, *args = sys.argv[sep + 1:]
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
