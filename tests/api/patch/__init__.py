"""Tests of the patch engines."""
