"""The engine's private package: small modules behind the ``engine`` facade.

Only this package imports SpiffWorkflow."""
