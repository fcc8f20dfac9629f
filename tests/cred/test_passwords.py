"""Password hashes and the credential charset."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from xrelay.cred.passwords import (
    check_credential_charset,
    hash_password,
    verify_password,
)


class PasswordTests(SynchronousTestCase):
    def test_a_hash_verifies_its_password_only(self) -> None:
        stored = hash_password("s3cret")
        self.assertTrue(verify_password("s3cret", stored))
        self.assertFalse(verify_password("s3cret ", stored))
        self.assertFalse(verify_password("", stored))

    def test_hashes_describe_themselves_and_are_salted(self) -> None:
        first, second = hash_password("pw"), hash_password("pw")
        self.assertNotEqual(first, second)
        self.assertTrue(first.startswith("scrypt$16384$8$1$"), first)
        self.assertEqual(len(first.split("$")), 6)

    def test_non_ascii_passwords_work(self) -> None:
        self.assertTrue(verify_password("pässwörd", hash_password("pässwörd")))

    def test_malformed_hashes_verify_nothing(self) -> None:
        good = hash_password("pw").split("$")
        for stored in [
            "",
            "plain",
            "$".join(["bcrypt", *good[1:]]),
            "$".join([*good[:1], "1000", *good[2:]]),  # N not a power of 2
            "$".join([*good[:1], str(2**40), *good[2:]]),  # too much memory
            "$".join([*good[:1], "x", *good[2:]]),
            "$".join([*good[:4], "!!", good[5]]),
            "$".join([*good[:5], ""]),
            "$".join([*good, "extra"]),
        ]:
            self.assertFalse(verify_password("pw", stored), stored)

    @given(st.text())
    def test_verify_never_raises(self, stored: str) -> None:
        self.assertFalse(verify_password("pw", stored))


class CharsetTests(SynchronousTestCase):
    def test_allowed(self) -> None:
        for value in ["a", "Bob.Smith_1@example-x", "0" * 64]:
            self.assertTrue(check_credential_charset(value), value)

    def test_refused(self) -> None:
        for value in ["", "0" * 65, "a b", "a+b", "a/b", "a%20", "a?b", "é", "a\n"]:
            self.assertFalse(check_credential_charset(value), value)
