"""Connection limits that hold across every node of a cluster, through Redis
(key layout and timings: README.md, "Lines in Redis")."""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Callable

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from xrelay.cred.limits import REFUSE, ConnectionTracker, IConnectionTracker, Slot
from xrelay.redis import IRedis, Outage, Script

# Slot fields are "{instance}#{number}"; an instance is one run of one node.
_LIVE_SLOTS = """
local prefix, now, grace = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local function instance(field) return string.match(field, '^(.*)#') end
-- The line's slots, dropping those of dead instances and lapsed reservations.
local held, alive = {}, {}
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  local field, slot = flat[i], cjson.decode(flat[i + 1])
  local owner = instance(field)
  if alive[owner] == nil then
    alive[owner] = redis.call('EXISTS', prefix .. 'node:' .. owner) == 1
  end
  if alive[owner] and (slot.ended == 0 or now < slot.ended + grace) then
    slot.field = field
    held[#held + 1] = slot
  else
    redis.call('HDEL', KEYS[1], field)
  end
end
"""

# KEYS: the line.  ARGV: prefix, now, zap grace, limit, policy, client,
# the new slot's field and entry, kick set TTL (ms).  -> {admitted, the
# field of the slot taken over or ''}; an open stream of another instance
# taken over goes into that instance's kick set.
ACQUIRE = Script(
    _LIVE_SLOTS
    + """
local limit, policy, client = tonumber(ARGV[4]), ARGV[5], ARGV[6]
local function oldest(pick)
  local best
  for _, s in ipairs(held) do
    if pick(s) and (best == nil or s.started < best.started) then best = s end
  end
  return best
end
-- The steps of xrelay.cred.limits.admit.
local victim = oldest(function(s) return s.client == client and s.ended > 0 end)
if victim == nil and #held >= limit then
  victim = oldest(function(s) return s.client == client end)
  if victim == nil and policy == 'replace-oldest' then
    victim = oldest(function(s) return s.ended > 0 end)
      or oldest(function() return true end)
  end
  if victim == nil then return {0, ''} end
end
local taken = ''
if victim ~= nil then
  taken = victim.field
  redis.call('HDEL', KEYS[1], taken)
  local owner = instance(taken)
  if victim.ended == 0 and owner ~= instance(ARGV[7]) then
    redis.call('SADD', prefix .. 'kick:' .. owner, taken)
    redis.call('PEXPIRE', prefix .. 'kick:' .. owner, ARGV[9])
  end
end
redis.call('HSET', KEYS[1], ARGV[7], ARGV[8])
redis.call('PERSIST', KEYS[1])
return {1, taken}
"""
)

# KEYS: the line.  ARGV: prefix, now, zap grace.  -> open streams
COUNT = Script(
    _LIVE_SLOTS
    + """
local count = 0
for _, s in ipairs(held) do
  if s.ended == 0 then count = count + 1 end
end
return count
"""
)

# KEYS: the line.  ARGV: field, ended, zap grace (ms).  The slot stays as a
# reservation; a line left with no open stream expires after the grace.
RELEASE = Script(
    """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
local slot = cjson.decode(entry)
slot.ended = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(slot))
for _, other in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(other).ended == 0 then return 1 end
end
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(ARGV[3])))
return 1
"""
)

# KEYS: this instance's node key, its kick set.  ARGV: TTL (ms).
# -> {alive, fields to kick}; alive 0 when the key had lapsed.
BEAT = Script(
    """
local alive = redis.call('PEXPIRE', KEYS[1], ARGV[1])
local kicks = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2])
return {alive, kicks}
"""
)

# KEYS: the new node key, the previous one, then each slot's line.
# ARGV: TTL (ms), then each slot's field and entry.
REGISTER = Script(
    """
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
for i = 3, #KEYS do
  redis.call('HSET', KEYS[i], ARGV[2 * i - 4], ARGV[2 * i - 3])
  redis.call('PERSIST', KEYS[i])
end
return 1
"""
)


@implementer(IConnectionTracker)
class RedisConnectionTracker(Service):
    """Connection accounting shared by the cluster through Redis.

    This node keeps its slots in a local ``ConnectionTracker`` and mirrors
    them into Redis, where ``ACQUIRE`` applies the policy atomically to the
    slots of every live node.  A node is live while its key exists: it
    refreshes it every ``heartbeat`` seconds and it expires after
    ``node_timeout``, so a crashed node's streams stop counting within
    ``node_timeout``.  A stream of another node that must stop is put in
    that node's kick set, which the node reads at its next heartbeat.

    While Redis is unavailable this node decides alone from its local
    slots (logged once).  When Redis answers again, the node registers its
    slots afresh under a new instance name, dropping what Redis held for
    the old one.  Commands go over one connection, in order, so anything
    sent after the registration lands after it.
    """

    log = Logger()

    def __init__(
        self,
        redis: IRedis,
        clock: IReactorTime,
        node: str,
        policy: str = REFUSE,
        zap_grace: float = 3.0,
        heartbeat: float = 2.0,
        node_timeout: float = 10.0,
        prefix: str = "xrelay:",
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._node = node
        self._policy = policy
        self._zap_grace = zap_grace
        self._heartbeat = heartbeat
        self._ttl_ms = int(node_timeout * 1000)
        self._prefix = prefix
        self._local = ConnectionTracker(clock, policy, zap_grace, self._released)
        self._instance = ""  # this run's name in Redis
        self._synced = False  # Redis holds our slots under self._instance
        self._outage = Outage(
            "connection limits are counted on this node only",
            "connection limits hold across the cluster again",
        )
        self._beating = LoopingCall(self.beat)
        self._beating.clock = clock

    def startService(self) -> None:
        super().startService()
        # The first beat registers this node: one heartbeat from now, once
        # the Redis connection (opened by its own service) is up.
        self._beating.start(self._heartbeat, now=False)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self._beating.stop()
        if not self._synced:
            return succeed(None)
        self._synced = False
        # Our streams stop counting now rather than at the node timeout.
        d = self._redis.execute("DEL", self._node_key(self._instance))
        return d.addCallbacks(lambda _: None, lambda _: None)

    def acquire(
        self,
        username: str,
        limit: int,
        kind: str,
        key: str,
        client: str,
        kick: Callable[[], None],
    ) -> Deferred[Slot | None]:
        if not self._synced:
            return succeed(self._local.take(username, limit, kind, key, client, kick))
        return Deferred.fromCoroutine(
            self._acquire(username, limit, kind, key, client, kick)
        )

    async def _acquire(
        self,
        username: str,
        limit: int,
        kind: str,
        key: str,
        client: str,
        kick: Callable[[], None],
    ) -> Slot | None:
        instance, number, now = self._instance, self._local.new_number(), self._now()
        entry = _entry(client, kind, key, now, 0.0)
        try:
            admitted, taken = await self._redis.run(
                ACQUIRE,
                [self._line_key(username)],
                [
                    self._prefix,
                    now,
                    self._zap_grace,
                    limit,
                    self._policy,
                    client,
                    f"{instance}#{number}",
                    entry,
                    self._ttl_ms,
                ],
            )
        except Exception:
            self._lost(Failure())
            return self._local.take(username, limit, kind, key, client, kick)
        if instance != self._instance:
            self._synced = False  # registered meanwhile, without this slot
        if not admitted:
            return None
        if taken:  # ours: kicked if still open, else a reservation forgotten
            self._kick(taken)
        return self._local.add(number, username, kind, key, client, kick)

    def open_slots(self) -> list[Slot]:
        return self._local.open_slots()

    def active(self, username: str) -> Deferred[int]:
        if not self._synced:
            return self._local.active(username)

        def local(failure: Failure) -> Deferred[int]:
            self._lost(failure)
            return self._local.active(username)

        d = self._redis.run(
            COUNT,
            [self._line_key(username)],
            [self._prefix, self._now(), self._zap_grace],
        )
        return d.addErrback(local)

    def _released(self, slot: Slot) -> None:
        if not self._synced:
            return  # the next registration writes the slots as they are then
        d = self._redis.run(
            RELEASE,
            [self._line_key(slot.username)],
            [
                f"{self._instance}#{slot.number}",
                self._now(),
                int(self._zap_grace * 1000),
            ],
        )
        d.addErrback(self._lost)

    def beat(self) -> Deferred[None]:
        """One heartbeat (every ``heartbeat`` seconds while running): keep
        this node alive in Redis, registering it when it is not, and stop
        the streams other nodes took over.  Never fails."""
        return Deferred.fromCoroutine(self._beat_once())

    async def _beat_once(self) -> None:
        try:
            if self._synced:
                alive, kicks = await self._redis.run(
                    BEAT,
                    [self._node_key(self._instance), self._kick_key(self._instance)],
                    [self._ttl_ms],
                )
                for field in kicks:  # before a registration could revive them
                    self._kick(field)
                if alive:
                    return
                self.log.warn(
                    "this node's Redis key lapsed (a stall longer than the node "
                    "timeout?); registering its streams again"
                )
            await self._register()
        except Exception:
            self._lost(Failure())

    async def _register(self) -> None:
        previous = self._instance
        self._instance = f"{self._node}/{secrets.token_hex(4)}"
        self._synced = True  # later commands queue behind REGISTER
        slots = self._local.slots()
        await self._redis.run(
            REGISTER,
            [
                self._node_key(self._instance),
                self._node_key(previous or self._instance),
                *(self._line_key(slot.username) for slot in slots),
            ],
            [
                self._ttl_ms,
                *itertools.chain.from_iterable(
                    (f"{self._instance}#{s.number}", _slot_entry(s)) for s in slots
                ),
            ],
        )
        if not previous:
            self.log.info(
                "connection limits are shared through Redis (as {instance})",
                instance=self._instance,
            )
        self._outage.up()

    def _kick(self, field: str) -> None:
        owner, _, number = field.rpartition("#")
        slot = self._local.find(int(number)) if owner == self._instance else None
        if slot is not None:
            self._local.evict(slot)

    def _lost(self, failure: Failure) -> None:
        self._synced = False
        self._outage.down(failure)

    def _now(self) -> float:
        return self._clock.seconds()

    def _line_key(self, username: str) -> str:
        return f"{self._prefix}conns:{username}"

    def _node_key(self, instance: str) -> str:
        return f"{self._prefix}node:{instance}"

    def _kick_key(self, instance: str) -> str:
        return f"{self._prefix}kick:{instance}"


def _entry(client: str, kind: str, key: str, started: float, ended: float) -> str:
    return json.dumps(
        {"client": client, "kind": kind, "key": key, "started": started, "ended": ended}
    )


def _slot_entry(slot: Slot) -> str:
    return _entry(slot.client, slot.kind, slot.key, slot.started, slot.ended or 0.0)
