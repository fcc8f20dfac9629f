"""xrelay: IPTV middleware and MPEG-TS media relay on Twisted."""

__version__ = "0.1.0"
