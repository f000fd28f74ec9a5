"""Lua scripts for the queue's multi-key steps that must be atomic.

Each runs as one Redis command, so a crash between its steps cannot leave, say, an
idempotency key pointing at a job that was never enqueued.
"""

# The idempotency key's value is "<job_id> <request digest>" (the digest of the canonical
# payload, priority and stages: ``request_digest``). A key holding only a job id was written
# before digests were stored and matches any request.
# KEYS: idem ("-" for none), job hash, index zset, job stream, events stream
# ARGV: job_id, created_at, event json, events maxlen, request digest, then hash field/value
#       pairs
# Returns {1, job_id} (created), {0, job_id} (same request seen) or {-1, job_id} (the key was
# used for a different request).
SUBMIT = """
if KEYS[1] ~= '-' then
  local existing = redis.call('GET', KEYS[1])
  if existing then
    local sep = string.find(existing, ' ', 1, true)
    if not sep then return {0, existing} end
    local jid = string.sub(existing, 1, sep - 1)
    if string.sub(existing, sep + 1) == ARGV[5] then return {0, jid} end
    return {-1, jid}
  end
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[5])
end
redis.call('HSET', KEYS[2], unpack(ARGV, 6))
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[4], '*', 'event', ARGV[3])
redis.call('XADD', KEYS[4], '*', 'job_id', ARGV[1])
return {1, ARGV[1]}
"""

# Move retries whose backoff has elapsed from the delayed zset back onto their stream.
# KEYS: delayed zset; ARGV: now, key prefix, max count
PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local moved = 0
for _, job_id in ipairs(due) do
  if redis.call('ZREM', KEYS[1], job_id) == 1 then
    local jkey = ARGV[2] .. ':job:' .. job_id
    local prio = redis.call('HGET', jkey, 'priority')
    if prio then
      redis.call('XADD', ARGV[2] .. ':jobs:' .. prio, '*', 'job_id', job_id)
      moved = moved + 1
    end
  end
end
return moved
"""

# Reset a pending entry's idle time, but only while this consumer still owns it.
# KEYS: stream; ARGV: group, consumer, entry id
HEARTBEAT = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if p[1] == nil or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""

# Request cancellation. Queued or retrying jobs end at once; running ones are flagged and
# stop at the worker's next check. KEYS: job hash, delayed zset, events stream
# ARGV: job_id, now, event json for the cancelled status, events maxlen
CANCEL = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if status == 'succeeded' or status == 'failed' or status == 'cancelled' then return status end
redis.call('HSET', KEYS[1], 'cancel_requested', '1', 'updated_at', ARGV[2])
if status == 'queued' or status == 'retrying' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished_at', ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'event', ARGV[3])
  return 'cancelled'
end
return status
"""
