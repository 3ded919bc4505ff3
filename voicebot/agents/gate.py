"""What the agents' console keeps in Redis about sign-ins and sessions.

* **The per-address throttle**: a Lua script takes each sign-in try (counts it, or refuses
  it past the limit) *before* the password is hashed, so a flood of parallel posts cannot
  all pass the check while the first ones are still hashing; a successful sign-in gives its
  try back, so only failures of any kind add up.
* **Known addresses**: for 30 days, the addresses each agent signed in from, as keyed
  hashes (HMAC with the app's secret key over the agent and the address; an IPv6 address by
  its /64), never the address itself. A right password from one of them lifts a lockout, so
  strangers who lock an account on purpose do not keep its agent out. Wrong passwords from
  an address are counted per agent too (for the lockout's fifteen minutes): after five, that
  address lifts nothing, and guessing from a known address is as slow as from anywhere.
* **Sessions**: a random id in the signed cookie must also be here
  (``vb:console:session:<id>`` -> the agent's id, twelve hours), so signing out ends the
  session even for a copy of the cookie.

Every function takes the redis-py client (or fakeredis) and lets ``redis.RedisError``
through: the console decides what a failure means.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from datetime import UTC, datetime, timedelta

import redis as redis_lib

THROTTLE_PREFIX = "vb:signin:"
SESSION_PREFIX = "vb:console:session:"
KNOWN_PREFIX = "vb:console:known:"
MISSES_PREFIX = "vb:console:misses:"
KNOWN_FOR = timedelta(days=30)
KNOWN_MAX = 50  # addresses remembered per agent; the least recent go first

# Refuse past the limit, else count this try (the window starts with the first one).
_TAKE_TRY = """
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return 0 end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
"""
# A success gives its try back; never below zero, and never a key without its expiry.
_GIVE_BACK = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 1
"""
# Count a wrong password from this address for this agent, for the lockout's length.
_MISS = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
# KEYS: known set, misses; ARGV: now, until, member, max kept, ttl.
_REMEMBER = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[4]) + 1))
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('DEL', KEYS[2])
return 1
"""


def _seconds(span: timedelta) -> int:
    return int(span.total_seconds())


# ---- the per-address throttle ------------------------------------------------------------


def _throttle_key(address: str) -> str:
    """Counted by network as known addresses are: one IPv6 /64 is one address here, or its
    2^64 addresses would each get a fresh budget."""
    return THROTTLE_PREFIX + hashlib.sha256(network(address).encode()).hexdigest()[:24]


def take_try(redis: redis_lib.Redis, address: str, limit: int, window: timedelta) -> bool:
    """Count a sign-in try from this address; False (nothing counted) past the limit."""
    script = redis.register_script(_TAKE_TRY)
    return bool(script(keys=[_throttle_key(address)], args=[limit, _seconds(window)]))


def give_back_try(redis: redis_lib.Redis, address: str) -> None:
    """A success: its try was no failure."""
    redis.register_script(_GIVE_BACK)(keys=[_throttle_key(address)])


# ---- known addresses ---------------------------------------------------------------------


def network(address: str) -> str:
    """The address as remembered: IPv6 by its /64, whose last half privacy addresses change
    by the day; an IPv4-mapped IPv6 address as the IPv4 one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def pseudonym(secret: str | bytes, agent_id: int, created: datetime | None, address: str) -> str:
    """A keyed hash of (agent, address): a leaked Redis names no address, and an account
    made later under a reused id inherits nothing (its creation time differs)."""
    key = secret.encode() if isinstance(secret, str) else secret
    key = hmac.new(key, b"vb:console:known-address", hashlib.sha256).digest()
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    stamp = int(created.timestamp()) if created is not None else 0
    message = f"{agent_id}|{stamp}|{network(address)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def count_miss(redis: redis_lib.Redis, where: str, window: timedelta) -> None:
    """A wrong password for this (agent, address) pseudonym."""
    redis.register_script(_MISS)(keys=[MISSES_PREFIX + where], args=[_seconds(window)])


def may_lift_lock(redis: redis_lib.Redis, agent_id: int, where: str, max_misses: int) -> bool:
    """This agent signed in from here within KNOWN_FOR, and few wrong passwords came from
    here lately."""
    pipe = redis.pipeline(transaction=False)
    pipe.zscore(KNOWN_PREFIX + str(agent_id), where)
    pipe.get(MISSES_PREFIX + where)
    until, misses = pipe.execute()
    now = datetime.now(UTC).timestamp()
    return until is not None and float(until) > now and int(misses or 0) < max_misses


def remember(redis: redis_lib.Redis, agent_id: int, where: str) -> None:
    """A success from here: known for KNOWN_FOR more, and its wrong passwords forgiven."""
    now = datetime.now(UTC).timestamp()
    redis.register_script(_REMEMBER)(
        keys=[KNOWN_PREFIX + str(agent_id), MISSES_PREFIX + where],
        args=[now, now + KNOWN_FOR.total_seconds(), where, KNOWN_MAX, _seconds(KNOWN_FOR)],
    )


# ---- sessions ----------------------------------------------------------------------------


def open_session(redis: redis_lib.Redis, agent_id: int, lasts: timedelta) -> str:
    """A new session id for the cookie, valid for `lasts` unless closed first."""
    session_id = secrets.token_urlsafe(32)
    redis.set(SESSION_PREFIX + session_id, agent_id, ex=_seconds(lasts))
    return session_id


def session_agent(redis: redis_lib.Redis, session_id: str) -> int | None:
    """The agent whose open session this is, or None (signed out, expired, or never)."""
    value = redis.get(SESSION_PREFIX + session_id)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def close_session(redis: redis_lib.Redis, session_id: str) -> None:
    redis.delete(SESSION_PREFIX + session_id)
