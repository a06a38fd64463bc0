"""What the containers of the docker tests reach on this machine: the bridge's gateway, and files served there."""

from __future__ import annotations

import http.server
import ipaddress
import threading
from pathlib import Path

import docker


def gateway() -> str:
    """The host's address on Docker's default bridge, where a server bound to 0.0.0.0 is reached."""
    ipam = docker.from_env().networks.get("bridge").attrs["IPAM"]["Config"][0]
    # Docker gives the bridge's gateway the subnet's first address when IPAM does not name one.
    return ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))


class Served:
    """A directory served over HTTP to the containers, each request's path counted."""

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object) -> None:
                super().__init__(*args, directory=str(root))  # type: ignore[arg-type]

            def do_GET(self) -> None:
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
        self.url = f"http://{gateway()}:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
