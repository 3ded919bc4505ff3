"""The one-time code waiting in Redis for the caller to enter it.

Only a salted hash of the code is kept, and each try is taken by one Lua script, so two
requests at once can neither both use a code nor get past its limit of tries.
"""

from __future__ import annotations

import hashlib

import redis as redis_lib

from voicebot.verification.common import MARGIN, PREFIX, Found, as_text

CODE_DIGITS = 6
CODE_TTL = 10 * 60  # seconds a code is good for
MAX_TRIES = 3
# A leaked Redis must not give codes away: a salted scrypt of a 6-digit code takes hours
# to brute-force on one core, far longer than the code lives.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32, "maxmem": 64 * 1024 * 1024}

# Atomically: is a code pending, has it expired, count this try.
_TAKE_TRY = """
local f = redis.call('HMGET', KEYS[1], 'hash', 'salt', 'exp', 'attempt', 'student', 'record')
if not f[1] then return {'none'} end
if tonumber(f[3]) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return {'expired', '', '', '0', f[4], f[5], f[6]}
end
local tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
if tries > tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return {'exhausted', '', '', tostring(tries), f[4], f[5], f[6]}
end
return {'try', f[1], f[2], tostring(tries), f[4], f[5], f[6]}
"""


def hash_code(code: str, salt: bytes) -> bytes:
    return hashlib.scrypt(code.encode(), salt=salt, **_SCRYPT)


class PendingCodes:
    """One pending code per conversation, real or a decoy."""

    def __init__(self, redis: redis_lib.Redis) -> None:
        self.redis = redis
        self._take_try = redis.register_script(_TAKE_TRY)

    def key(self, conversation: str) -> str:
        return f"{PREFIX}code:{conversation}"

    def store(
        self,
        conversation: str,
        digest: bytes,
        salt: bytes,
        now: float,
        attempt: str,
        student: Found | None,
    ) -> None:
        """Only a salted hash is kept; a decoy (student None) can never be entered right."""
        key = self.key(conversation)
        pipe = self.redis.pipeline()
        pipe.delete(key)
        pipe.hset(
            key,
            mapping={
                "hash": digest.hex(),
                "salt": salt.hex(),
                "exp": repr(now + CODE_TTL),
                "tries": 0,
                "attempt": attempt,
                "student": str(student.id) if student else "",  # empty: a decoy
                "record": student.record if student else "",
            },
        )
        pipe.expire(key, CODE_TTL + MARGIN)
        pipe.execute()

    def take_try(self, key: str, now: float) -> tuple[str, str, str, str, str, str, str]:
        """(status, hash, salt, tries, attempt, student id, record) of the code at ``key``;
        status is none, expired, exhausted or try."""
        parts = [as_text(part) for part in self._take_try(keys=[key], args=[repr(now), MAX_TRIES])]
        parts += [""] * (7 - len(parts))
        return parts[0], parts[1], parts[2], parts[3] or "0", parts[4], parts[5], parts[6]

    def delete(self, key: str) -> int:
        """Use the code up; 1 when it was still there (0: another request used it)."""
        return int(self.redis.delete(key))
