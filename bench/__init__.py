"""Benchmarks of the ingest path (`make bench`): DynamoDB calls per webhook, latency, burst, cold import.

Everything runs against the embedded stack (DynamoDB Local in memory, the real HTTP server and handlers), and
speed is reported as ratios measured in the same run, so results compare across machines.
"""
