"""A three-node JetStream cluster of real nats-server processes on this machine, for the tests.

Each node has its own client, route and monitoring port (free ports) and its own JetStream store,
and names itself (``-server_name``); the routes join the three into one cluster. A node can be
killed with SIGKILL and started again on the same ports and store. :meth:`Cluster.clients` reads
each node's ``/connz`` (the monitoring endpoint), so a test can see which node a service is on.
"""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.embedded import free_port, nats_server_binary, wait_for_port

CLUSTER_NAME = "pypistats-test"


@dataclass
class Node:
    name: str
    store: Path
    port: int = field(default_factory=free_port)
    route_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, routes: list[str]) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        log = open(self.store.parent / f"{self.name}.log", "ab")
        self.proc = subprocess.Popen(
            [
                nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store),
                "--server_name", self.name, "--cluster_name", CLUSTER_NAME,
                "--cluster", f"nats://127.0.0.1:{self.route_port}", "--routes", ",".join(routes),
                "-m", str(self.http_port),
            ],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        wait_for_port(self.port, proc=self.proc)
        wait_for_port(self.http_port, proc=self.proc)

    def kill(self) -> None:
        """SIGKILL: no lame-duck mode, no goodbye to the cluster or the clients."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def monitor(self, path: str) -> dict[str, Any]:
        """A monitoring endpoint's JSON (empty when the node does not answer)."""
        if not self.alive():
            return {}
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=2) as r:
                body: dict[str, Any] = json.load(r)
                return body
        except OSError:
            return {}

    def client_names(self) -> list[str]:
        """Names of the clients connected to this node now (empty when it does not answer)."""
        if not self.alive():
            return []
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.http_port}/connz?limit=1024", timeout=2
            ) as r:
                body = json.load(r)
        except OSError:
            return []
        return [c.get("name", "") for c in body.get("connections") or []]


@dataclass
class Cluster:
    nodes: list[Node]

    @classmethod
    def start(cls, directory: Path, size: int = 3) -> Cluster:
        nodes = [Node(f"n{i}", directory / f"n{i}") for i in range(size)]
        cluster = cls(nodes)
        for node in nodes:
            node.start(cluster.routes_of(node))
        return cluster

    def routes_of(self, node: Node) -> list[str]:
        return [f"nats://127.0.0.1:{n.route_port}" for n in self.nodes if n is not node]

    def restart(self, node: Node) -> None:
        node.start(self.routes_of(node))

    @property
    def url(self) -> str:
        """NATS_URL of the whole cluster: every node, comma-separated."""
        return ",".join(n.url for n in self.nodes)

    def clients(self) -> dict[str, list[str]]:
        """Node name -> names of the clients connected to it."""
        return {n.name: n.client_names() for n in self.nodes}

    def node_of(self, client: str) -> Node | None:
        for node in self.nodes:
            if client in node.client_names():
                return node
        return None

    def node(self, name: str | None) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def meta_leader(self) -> Node | None:
        """The node leading JetStream's meta group (stream and consumer placement), as a live node
        sees it; None during an election."""
        for node in self.nodes:
            leader = (node.monitor("/jsz").get("meta_cluster") or {}).get("leader")
            if leader:
                return self.node(leader)
        return None

    def others(self, node: Node) -> str:
        """NATS_URL of every node but ``node``."""
        return ",".join(n.url for n in self.nodes if n is not node)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
