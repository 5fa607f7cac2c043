"""Fixtures of the kernel's tests."""

from tests.storage_fixtures import storage, storage_settings

__all__ = ["storage", "storage_settings"]
