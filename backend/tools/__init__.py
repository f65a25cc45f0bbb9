"""Tools an answer may call (search, read, tables, arithmetic, tickets), each behind the guarded executor."""
