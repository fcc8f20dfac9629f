# Kept import-light: twistd imports xrelay.tap only when the subcommand is used.
# This folder must never contain an __init__.py (it would replace Twisted's own).
from twisted.application.service import ServiceMaker

xrelay = ServiceMaker(
    "xrelay",
    "xrelay.tap",
    "IPTV middleware and MPEG-TS relay (Xtream Codes compatible)",
    "xrelay",
)
