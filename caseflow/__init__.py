"""Caseflow's own modules: settings, clock, store, bundles, the timer worker, the CLI and the
engine's private package (``caseflow._engine``, behind the top-level ``engine`` facade)."""
