"""The one exception the store raises on purpose."""


class StoreError(Exception):
    """A write the store refuses, or a database it cannot use.

    The message names the field and the reason, as in
    ``users.username: 'bob' already exists``.
    """
