"""Database dialects: one small interface, four implementations."""
