"""Task and start forms rendered from JSON Schema, and posted forms read back into typed data."""
