"""The domain layer: compose lifecycle, engine state and streams, host setup.

Nothing in this package imports Textual (tests/unit/test_layering.py enforces it): it hands out
plain dataclasses that the CLI and the Textual UI render.
"""
