"""Tests of the coding agent step (issue 9)."""
