"""The one-time code waiting in Redis for the caller to enter it.

Only a salted hash of the code is kept, and each try is taken by one Lua script, so two
requests at once can neither both use a code nor get past its limit of tries.

The code itself is not random but derived: an HMAC of the server's secret key and the
pending attempt's random id (derive_code). So the same code can be said again in a phone
call ("it's a landline") without keeping it anywhere: whoever reads Redis finds the id and
the hash, but without the secret key the id gives nothing away. Each call is counted on the
pending code by one Lua script too (take_call), at most MAX_CALLS per code, real or decoy.
"""

from __future__ import annotations

import hashlib
import hmac

import redis as redis_lib

from voicebot.verification.common import MARGIN, PREFIX, Found, as_text

CODE_DIGITS = 6
CODE_TTL = 10 * 60  # seconds a code is good for
MAX_TRIES = 3
MAX_CALLS = 2  # phone calls that may say one pending code (one more if the first was missed)
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


# Atomically: is a code pending and still good, and may it be called once more (counted).
# Tries are left as they are: asking for a call, answered or not, costs none.
_TAKE_CALL = """
local f = redis.call('HMGET', KEYS[1], 'exp', 'attempt', 'student', 'record')
if not f[2] then return {'none'} end
if tonumber(f[1]) <= tonumber(ARGV[1]) then return {'none'} end
if redis.call('HINCRBY', KEYS[1], 'calls', 1) > tonumber(ARGV[2]) then
  redis.call('HINCRBY', KEYS[1], 'calls', -1)
  return {'limit', f[2], f[3], f[4]}
end
return {'call', f[2], f[3], f[4]}
"""


def derive_code(secret: bytes, attempt: str) -> str:
    """The one-time code of a pending attempt: the same every time for the same id and key,
    unpredictable without the key (64 bits of HMAC-SHA256 reduced to CODE_DIGITS digits)."""
    mac = hmac.new(secret, f"one-time-code:{attempt}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(mac[:8], 'big') % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def hash_code(code: str, salt: bytes) -> bytes:
    return hashlib.scrypt(code.encode(), salt=salt, **_SCRYPT)


class PendingCodes:
    """One pending code per conversation, real or a decoy."""

    def __init__(self, redis: redis_lib.Redis) -> None:
        self.redis = redis
        self._take_try = redis.register_script(_TAKE_TRY)
        self._take_call = redis.register_script(_TAKE_CALL)

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

    def take_call(self, key: str, now: float) -> tuple[str, str, str, str]:
        """(status, attempt, student id, record) of the code at ``key``; status is none (no
        code, or expired), limit (called MAX_CALLS times already) or call (counted)."""
        args = [repr(now), MAX_CALLS]
        parts = [as_text(part) for part in self._take_call(keys=[key], args=args)]
        parts += [""] * (4 - len(parts))
        return parts[0], parts[1], parts[2], parts[3]

    def matches(self, key: str, code: str) -> bool:
        """Whether ``code`` is the one pending at ``key``: a code derived again under another
        secret key (a worker started without VOICEBOT_SECRET_KEY) must not be said."""
        stored, salt = (as_text(part) for part in self.redis.hmget(key, "hash", "salt"))
        if not stored or not salt:
            return False
        return hmac.compare_digest(hash_code(code, bytes.fromhex(salt)), bytes.fromhex(stored))

    def delete(self, key: str) -> int:
        """Use the code up; 1 when it was still there (0: another request used it)."""
        return int(self.redis.delete(key))
