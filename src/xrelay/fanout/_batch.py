"""A run of packets as the hub hands it to every viewer."""

from __future__ import annotations


class Batch:
    """Whole TS packets, shared by all viewers of a channel.

    ``framed`` (the HTTP/1.1 chunked form) is built once, on first use, so
    per viewer a batch costs one ``transport.write`` and no copying.
    ``keyframe_at`` is the offset of the first video keyframe in ``data``
    (None if there is none): where a viewer that fell behind may rejoin.
    """

    __slots__ = ("_framed", "data", "keyframe_at", "psi")

    def __init__(
        self, data: bytes, keyframe_at: int | None = None, psi: bytes = b""
    ) -> None:
        self.data = data
        self.keyframe_at = keyframe_at
        self.psi = psi  # the PAT/PMT in force, sent before a rejoin
        self._framed: bytes | None = None

    def __len__(self) -> int:
        return len(self.data)

    @property
    def framed(self) -> bytes:
        if self._framed is None:
            self._framed = b"%x\r\n%b\r\n" % (len(self.data), self.data)
        return self._framed

    def from_keyframe(self) -> Batch:
        """PAT/PMT then this batch from its keyframe on (for a rejoin)."""
        assert self.keyframe_at is not None
        return Batch(self.psi + self.data[self.keyframe_at :], 0, self.psi)
