"""Player logins: password hashing (``passwords``), the store checker and
realm (``checkers``) and per-line connection limits (``limits``)."""
