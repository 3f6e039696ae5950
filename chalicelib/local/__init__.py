"""Embedded mode: the local runner, DynamoDB Local, the stream pump, WebSocket emulation and fake providers.

Nothing here is imported by the Lambda handlers; it drives the same handlers on a laptop and in tests.
"""
