"""The AsyncAPI document of every NATS subject, message and schema, generated from FastStream.

Owns ``docs/asyncapi.json`` and the ``python -m shared.asyncapi`` command that prints it (a test
fails when the file is stale; the api serves the same document at ``/api/asyncapi.json``). The
document is FastStream's own AsyncAPI 3.0 generator run over the routers the services really
declare: each service registers a function returning its router as an entry point in the
``pypistats.events`` group (as settings classes are registered for docs/configuration.md), so
shared imports no service. Channels are shown without a namespace (``NAMESPACE`` prefixes every
subject and stream of a stack, e.g. ``t1a2b.downloads.daily.v1.{day}``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points, version
from typing import Any

from faststream.nats import NatsRouter
from faststream.specification import AsyncAPI

from shared.messaging import make_broker

ENTRY_POINT_GROUP = "pypistats.events"
#: The server the document names: the NATS service of docker-compose.yml and the Helm chart.
DOCUMENT_SERVER = "nats://nats:4222"
DESCRIPTION = (
    "Events of pypistats-next on NATS JetStream (contracts.md section 3). ingest publishes one "
    "package-day per package and UTC day, then the day's manifest, on the DOWNLOADS stream; the "
    "aggregator consumes them through one durable pull consumer shared by its replicas, writes the "
    "rollups, and announces each committed day on ROLLUPS (rollups.updated), which every api and web "
    "replica listens to; what it cannot apply goes to DOWNLOADS_DEAD with the reason. Every message "
    "carries a Nats-Msg-Id and every stream a duplicate window, so a retried publish is stored once."
)


def routers() -> dict[str, NatsRouter]:
    """Every service's router, by service name."""
    found: dict[str, NatsRouter] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.load()()
    return dict(sorted(found.items()))


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI document as JSON-ready data (no server is contacted)."""
    broker = make_broker(DOCUMENT_SERVER, name="pypistats")
    for router in routers().values():
        broker.include_router(router)
    spec = AsyncAPI(
        broker,
        title="pypistats-next events",
        version=version("pypistats-next"),
        description=DESCRIPTION,
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def render() -> str:
    """The text of docs/asyncapi.json."""
    return json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.asyncapi", description="Print the AsyncAPI document (docs/asyncapi.json)."
    )
    parser.parse_args(argv)
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    from shared.asyncapi import main as _main  # the importable module, not this __main__ copy

    sys.exit(_main())
