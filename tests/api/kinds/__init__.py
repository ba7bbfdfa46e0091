"""Tests of the per-kind strategies."""
