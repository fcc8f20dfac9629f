# The "reuseport:" server endpoint (xrelay.endpoints), for endpoint strings.
# Import-light on purpose: twisted.plugin imports every module here.
from xrelay.endpoints import ReusePortParser

reuseport = ReusePortParser()
