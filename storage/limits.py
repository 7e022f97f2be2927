"""Bounds of what the schema can hold; imports nothing, so the CLI can check input without SQLAlchemy."""

MAX_ROW_ID = 2**31 - 1  # ids and version numbers are INTEGER columns: PostgreSQL holds no more
