"""The schema revision this code reads and writes: storage.db migrates a database to it,
storage.plain reads only a database already at it. Raise it with every new migration."""

SCHEMA_REVISION = "0015"
