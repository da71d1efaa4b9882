"""The Lua scripts: every state transition of a job, each one atomic inside Redis and guarded.

Guards: a terminal job (done, error, cancelled) never changes again; a worker writes only while the job's `owner`
is the token of its own attempt (a stale worker, whose lease another worker's reaper took over, is refused).
Each script that moves a job appends one entry to the job's event log in the same step, so the log, the hash and
the queue never disagree. A log entry is `"<seq> <event> <body JSON>"`; entry i (0-based) has seq i + 1, and the
last entry's body is the job's current status body.

A script may be sent twice when a reply is lost (a timeout, a reset); each one is safe to re-run: create finds
its own job, a repeated tick or complete changes nothing, a repeated take at worst starts a job nobody runs
(its lease expires and the reaper re-queues it).

ARGV[1] of every script is the key prefix. Keys derived inside a script (job ids popped from the queue) are
not declared: these scripts are for a standalone Redis, not a cluster.
"""

from __future__ import annotations

PRELUDE = """
local P = ARGV[1]
local TERMINAL = {done = true, error = true, cancelled = true}
local function jkey(id) return P .. 'job:' .. id end
local function lkey(id) return P .. 'log:' .. id end
local function body(id)
  local h = redis.call('HMGET', jkey(id), 'state', 'percent', 'tries', 'file_count', 'files_done',
                       'sha256', 'bytes', 'failure', 'poll_ms')
  local state = h[1]
  local b = {id = id, state = state, percent = tonumber(h[2]) or 0, tries = tonumber(h[3]) or 0,
             file_count = tonumber(h[4]) or 0, files_done = tonumber(h[5]) or 0, sha256 = cjson.null,
             bytes = cjson.null, failure = cjson.null, url = cjson.null, poll_after_ms = cjson.null}
  if h[6] and h[6] ~= '' then b.sha256 = h[6] end
  if h[7] and h[7] ~= '' then b.bytes = tonumber(h[7]) end
  if h[8] and h[8] ~= '' then b.failure = cjson.decode(h[8]) end
  if state == 'done' then b.url = '/api/jobs/' .. id .. '/file' end
  if not TERMINAL[state] then b.poll_after_ms = tonumber(h[9]) end
  return (string.gsub(cjson.encode(b), '\\\\/', '/'))  -- undo cjson's escaped slashes
end
local function emit(id, name)
  local seq = redis.call('HINCRBY', jkey(id), 'seq', 1)
  redis.call('RPUSH', lkey(id), seq .. ' ' .. name .. ' ' .. body(id))
  return seq
end
"""

# KEYS: job, log, request-id key ('' for none), queue.
# ARGV: prefix, id, file_ids JSON, file_count, duration_ms, poll_ms, created_ms, request_id, ttl_ms, check ('1':
# an existing request-id key answers its job; '0': the racy_idempotency defect, the key is overwritten).
# Returns {1 created | 0 existing, job id, last log entry}.
CREATE = """
local id = ARGV[2]
if redis.call('EXISTS', KEYS[1]) == 1 then return {1, id, redis.call('LINDEX', KEYS[2], -1)} end
if KEYS[3] ~= '' then
  if ARGV[10] == '1' then
    local other = redis.call('GET', KEYS[3])
    if other and redis.call('EXISTS', jkey(other)) == 1 then
      return {0, other, redis.call('LINDEX', lkey(other), -1)}
    end
  end
  redis.call('SET', KEYS[3], id, 'PX', ARGV[9])
end
redis.call('HSET', KEYS[1], 'id', id, 'state', 'pending', 'percent', 0, 'tries', 0, 'file_count', ARGV[4],
           'files_done', 0, 'sha256', '', 'bytes', '', 'failure', '', 'poll_ms', ARGV[6], 'seq', 0, 'owner', '',
           'file_ids', ARGV[3], 'duration_ms', ARGV[5], 'created_ms', ARGV[7], 'request_id', ARGV[8])
emit(id, 'progress')
redis.call('PEXPIRE', KEYS[1], ARGV[9])
redis.call('PEXPIRE', KEYS[2], ARGV[9])
redis.call('LPUSH', KEYS[4], id)
return {1, id, redis.call('LINDEX', KEYS[2], -1)}
"""

# KEYS: queue, this worker's processing list. ARGV: prefix, token base, lease_ms.
# Moves the oldest queued id into the processing list and starts it (tries + 1, owner = this attempt's token,
# lease set) in the same step, so no job is ever in a processing list without a lease. Ids of jobs no longer
# pending (cancelled while queued, expired) are dropped. Returns {id, token, file_ids, duration_ms} or nil.
TAKE = """
for _ = 1, 16 do
  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not id then return false end
  local job = jkey(id)
  if redis.call('HGET', job, 'state') == 'pending' then
    local tries = redis.call('HINCRBY', job, 'tries', 1)
    local token = ARGV[2] .. ':' .. tries
    redis.call('HSET', job, 'state', 'processing', 'percent', 0, 'files_done', 0, 'sha256', '', 'bytes', '',
               'owner', token)
    redis.call('SET', P .. 'lease:' .. id, token, 'PX', ARGV[3])
    emit(id, 'progress')
    return {id, token, redis.call('HGET', job, 'file_ids'), redis.call('HGET', job, 'duration_ms')}
  end
  redis.call('LREM', KEYS[2], 1, id)
end
return false
"""

# KEYS: job, lease. ARGV: prefix, id, token, percent, files_done, lease_ms, force ('1': the cancel_overwritten
# defect, a cancelled job is written over). Renews the lease; records progress that moved forward.
# Returns 1 (carry on) or 0 (stop: the job is not this attempt's any more, or it ended).
TICK = """
local h = redis.call('HMGET', KEYS[1], 'state', 'owner', 'percent')
if h[2] ~= ARGV[3] then return 0 end
if h[1] ~= 'processing' and not (ARGV[7] == '1' and h[1] == 'cancelled') then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[6])
if h[1] == 'processing' and tonumber(ARGV[4]) <= tonumber(h[3]) then return 1 end
redis.call('HSET', KEYS[1], 'state', 'processing', 'percent', ARGV[4], 'files_done', ARGV[5])
emit(ARGV[2], 'progress')
return 1
"""

# KEYS: job, lease, this worker's processing list. ARGV: prefix, id, token, sha256, bytes, force (as in TICK),
# keep ('1': the rerun_after_complete defect, the lease and processing entry are left to expire).
# Returns 1 (done, by this attempt) or 0 (refused).
COMPLETE = """
local h = redis.call('HMGET', KEYS[1], 'state', 'owner', 'file_count')
if h[2] ~= ARGV[3] then return 0 end
if h[1] == 'done' then return 1 end
if h[1] ~= 'processing' and not (ARGV[6] == '1' and h[1] == 'cancelled') then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'percent', 100, 'files_done', h[3], 'sha256', ARGV[4],
           'bytes', ARGV[5])
if ARGV[7] ~= '1' then
  redis.call('DEL', KEYS[2])
  redis.call('LREM', KEYS[3], 1, ARGV[2])
end
emit(ARGV[2], 'done')
return 1
"""

# KEYS: job, lease, this worker's processing list, queue. ARGV: prefix, id, token.
# A stopping worker hands a job it still owns back to the front of the queue. Returns 1 if re-queued.
RELEASE = """
local h = redis.call('HMGET', KEYS[1], 'state', 'owner')
if h[2] ~= ARGV[3] then return 0 end
redis.call('LREM', KEYS[3], 1, ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
if h[1] ~= 'processing' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'pending', 'owner', '', 'percent', 0, 'files_done', 0)
redis.call('RPUSH', KEYS[4], ARGV[2])
emit(ARGV[2], 'progress')
return 1
"""

# KEYS: a processing list, job, lease, queue. ARGV: prefix, id, max_tries, rerun ('1': the rerun_after_complete
# defect, a `done` job of one try whose lease expired is re-queued too).
# An entry whose lease is gone: a running job goes back to the front of the queue (owner cleared, so its old
# worker can write no more), or fails after max_tries; a finished job's entry is dropped.
REAP = """
if redis.call('EXISTS', KEYS[3]) == 1 then return 'alive' end
local h = redis.call('HMGET', KEYS[2], 'state', 'tries')
local state, tries = h[1], tonumber(h[2]) or 0
redis.call('LREM', KEYS[1], 1, ARGV[2])
if not state then return 'gone' end
local rerun = ARGV[4] == '1' and state == 'done' and tries == 1
if state == 'processing' and tries >= tonumber(ARGV[3]) then
  local failure = {code = 'too_many_tries', message = 'the job was taken over ' .. tries .. ' times'}
  redis.call('HSET', KEYS[2], 'state', 'error', 'owner', '', 'failure', cjson.encode(failure))
  emit(ARGV[2], 'error')
  return 'failed'
end
if state == 'processing' or rerun then
  redis.call('HSET', KEYS[2], 'state', 'pending', 'owner', '', 'percent', 0, 'files_done', 0, 'sha256', '',
             'bytes', '')
  redis.call('RPUSH', KEYS[4], ARGV[2])
  emit(ARGV[2], 'progress')
  return 'requeued'
end
if state == 'pending' and not redis.call('LPOS', KEYS[4], ARGV[2]) then
  redis.call('RPUSH', KEYS[4], ARGV[2])
  return 'requeued'
end
return 'cleaned'
"""

# KEYS: job, lease. ARGV: prefix, id, cancel token (one per request, so a re-sent cancel is not refused).
# Returns {1 cancelled | 0 already finished | -1 unknown, last log entry}.
CANCEL = """
local h = redis.call('HMGET', KEYS[1], 'state', 'cancel_token')
if not h[1] then return {-1} end
if h[1] == 'cancelled' and h[2] == ARGV[3] then return {1, redis.call('LINDEX', lkey(ARGV[2]), -1)} end
if TERMINAL[h[1]] then return {0, redis.call('LINDEX', lkey(ARGV[2]), -1)} end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'cancel_token', ARGV[3])
redis.call('DEL', KEYS[2])
emit(ARGV[2], 'cancelled')
return {1, redis.call('LINDEX', lkey(ARGV[2]), -1)}
"""

SCRIPTS = {
    "create": CREATE,
    "take": TAKE,
    "tick": TICK,
    "complete": COMPLETE,
    "release": RELEASE,
    "reap": REAP,
    "cancel": CANCEL,
}


def source(name: str) -> str:
    return PRELUDE + SCRIPTS[name]
