"""A line's rules: enabled, expiry, networks, players, output formats."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xrelay.cred.rules import Verdict, line_verdict
from xrelay.models import User

NOW = 1_700_000_000.0


def verdict(
    user: User, ip: str = "192.0.2.1", agent: str = "VLC/3.0", fmt: str | None = None
) -> Verdict | None:
    return line_verdict(user, NOW, ip, agent, fmt)


class RuleTests(SynchronousTestCase):
    def test_an_unrestricted_line_may_play(self) -> None:
        self.assertIsNone(verdict(User(0, "a", "h"), fmt="ts"))

    def test_disabled(self) -> None:
        self.assertEqual(
            verdict(User(0, "a", "h", enabled=False)),
            Verdict("Disabled", "line disabled"),
        )

    def test_expiry_is_exclusive_of_the_moment(self) -> None:
        self.assertEqual(
            verdict(User(0, "a", "h", expires_at=int(NOW))),
            Verdict("Expired", "line expired"),
        )
        self.assertIsNone(verdict(User(0, "a", "h", expires_at=int(NOW) + 1)))

    def test_networks(self) -> None:
        user = User(
            0, "a", "h", allowed_networks=("10.0.0.0/8", "192.0.2.7", "2001:db8::/32")
        )
        for ip in ("10.1.2.3", "192.0.2.7", "::ffff:10.9.9.9", "2001:db8::5"):
            self.assertIsNone(verdict(user, ip=ip), ip)
        for ip in ("192.0.2.8", "11.0.0.1", "2001:db9::1", "", "garbage"):
            self.assertEqual(
                verdict(user, ip=ip),
                Verdict("Banned", "address not allowed for this line"),
                ip,
            )

    def test_user_agents_are_case_insensitive_patterns(self) -> None:
        user = User(0, "a", "h", allowed_user_agents=("*TiviMate*", "VLC/*"))
        for agent in ("TiviMate/4.7.0 (Android)", "tivimate", "vlc/3.0.20"):
            self.assertIsNone(verdict(user, agent=agent), agent)
        for agent in ("", "curl/8.0", "Kodi/20"):
            self.assertEqual(
                verdict(user, agent=agent),
                Verdict("Banned", "player not allowed for this line"),
                agent,
            )

    def test_output_formats_when_asked(self) -> None:
        user = User(0, "a", "h", allowed_output_formats=("m3u8",))
        self.assertIsNone(verdict(user))
        self.assertIsNone(verdict(user, fmt="m3u8"))
        refused = verdict(user, fmt="ts")
        self.assertEqual(refused and refused.reason, "output format 'ts' not allowed")

    def test_the_first_reason_wins(self) -> None:
        user = User(
            0, "a", "h", enabled=False, expires_at=1, allowed_networks=("10.0.0.0/8",)
        )
        self.assertEqual(verdict(user), Verdict("Disabled", "line disabled"))
