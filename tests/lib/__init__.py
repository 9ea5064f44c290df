"""Helpers shared by the cityhub integration tests (standard library only)."""
