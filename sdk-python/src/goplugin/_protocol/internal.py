"""Names and message classes of go-plugin's internal services, shared by host and plugin sides.

The host calls these on every plugin (Shutdown on kill, StreamStdio and StartStream on
connect, Health on ping); the plugin serves them. Message classes come from the generated
``_proto`` modules, except health, which is grpcio-health-checking's own so that a plugin
author who also imports ``grpc_health`` gets no descriptor-pool clash.
"""

from __future__ import annotations

from .._proto import grpc_broker_pb2, grpc_controller_pb2, grpc_stdio_pb2

__all__ = [
    "BROKER_START_STREAM",
    "CONTROLLER_SHUTDOWN",
    "HEALTH_CHECK",
    "HEALTH_SERVICE_NAME",
    "INTERNAL_SERVICES",
    "MAX_MESSAGE_SIZE",
    "STDIO_STREAM",
    "ConnInfo",
    "Empty",
    "StdioData",
]

#: Go hosts dial with MaxCallRecvMsgSize/MaxCallSendMsgSize = math.MaxInt32; our hosts and
#: plugins use the same limit both ways, so big messages work in every pairing.
MAX_MESSAGE_SIZE = 2**31 - 1

# go-plugin registers its plugin health under this service name; Ping() checks it.
HEALTH_SERVICE_NAME = "plugin"

BROKER_START_STREAM = "/plugin.GRPCBroker/StartStream"
CONTROLLER_SHUTDOWN = "/plugin.GRPCController/Shutdown"
STDIO_STREAM = "/plugin.GRPCStdio/StreamStdio"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
HEALTH_WATCH = "/grpc.health.v1.Health/Watch"

#: The services every plugin serves besides its own (server reflection lists them).
INTERNAL_SERVICES = (
    "grpc.health.v1.Health",
    "plugin.GRPCBroker",
    "plugin.GRPCController",
    "plugin.GRPCStdio",
)

ConnInfo = grpc_broker_pb2.ConnInfo
Empty = grpc_controller_pb2.Empty
StdioData = grpc_stdio_pb2.StdioData
