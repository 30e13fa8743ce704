"""Caseflow schema package."""
