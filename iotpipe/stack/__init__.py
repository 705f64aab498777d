"""The local stack: Kafka (KRaft), Apicurio Registry and FerretDB as plain processes.

The same system that ``compose/docker-compose.yml`` deploys with containers, run on
loopback without Docker. Build inputs live in ``compose/local``; downloads and builds
are cached (``~/.cache/iotpipe``); data, logs and pid files live in one state folder.
"""

from iotpipe.stack.manager import Stack, StackStatus
from iotpipe.stack.settings import SERVICES, StackLayout, StackSettings

__all__ = ["SERVICES", "Stack", "StackLayout", "StackSettings", "StackStatus"]
