"""Host drivers: processes that load one plugin and answer the runner's timing commands.

They speak the same line protocol as the Go driver (examples-go/testprogs/benchhost), so the
runner treats every host alike. Drivers import nothing from the runner.
"""
