"""Zabota's application code. In the Lambda bundle, dataclass methods come precompiled (chalicelib/coldstart.py)."""

from chalicelib.coldstart import install as _use_precompiled_dataclasses

_use_precompiled_dataclasses()
