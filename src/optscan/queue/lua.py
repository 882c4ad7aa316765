"""The Lua scripts of the profile lock (:mod:`~optscan.queue.lock`) and the scan store
(:mod:`~optscan.queue.store`): every change to a lock or a scan's state is one script,
so it is atomic. They share :data:`LUA_HELPERS` (is a scan alive? did it wait too long
for a worker? release its lock) and ``end_scan`` (:data:`END_SCAN`).

Keys of RQ's own (a job's hash, ``rq:job:<id>``) are passed in ``KEYS`` like ours.
"""

from __future__ import annotations

# Lua helpers shared by the lock's scripts and the scan store's.
# A scan is *alive* while a job of it will still run: queued, its coordinator (unless it
# is *never started*: still queued past its start_by, Redis time, and no worker took
# the coordinator); running, its aggregator (waiting for the batches), or the
# coordinator while it has not enqueued the aggregator yet. (A scheduled scan's
# coordinator job id is the schedule's, shared by every run: once the aggregator exists,
# only the aggregator counts.)
LUA_HELPERS = """
local function pending(job)
    local status = redis.call('HGET', job, 'status')
    return status == 'queued' or status == 'started' or status == 'deferred'
        or status == 'scheduled'
end
local function now_s()
    local t = redis.call('TIME')
    return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function never_started(scan)
    if redis.call('HGET', scan, 'state') ~= 'queued' then
        return false
    end
    if redis.call('HEXISTS', scan, 'taken_at') == 1 then
        return false
    end
    local by = tonumber(redis.call('HGET', scan, 'start_by') or '')
    return by ~= nil and now_s() > by
end
local function alive(scan, coordinator, aggregator)
    local state = redis.call('HGET', scan, 'state')
    if state == 'queued' then
        return pending(coordinator) and not never_started(scan)
    end
    if state ~= 'running' then
        return false
    end
    if redis.call('EXISTS', aggregator) == 1 then
        return pending(aggregator)
    end
    return pending(coordinator)
end
local function release(lease, owner, token)
    if redis.call('GET', lease) == token then
        redis.call('DEL', lease)
    end
    if redis.call('GET', owner) == token then
        redis.call('DEL', owner)
    end
end
"""

# KEYS: lease, owner, the owner's scan hash, coordinator job, aggregator job
# ARGV: token, lease ttl (ms), owner ttl (s), the owner the caller read ('' for none)
# Returns {1, token} when taken, {0, holder} when busy, {-1, owner} when the owner
# changed since the caller read it (read again).
ACQUIRE = (
    LUA_HELPERS
    + """
local lease = redis.call('GET', KEYS[1])
if lease == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
    return {1, ARGV[1]}
end
if lease then
    return {0, lease}
end
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then
    if owner ~= ARGV[4] then
        return {-1, owner}
    end
    if alive(KEYS[3], KEYS[4], KEYS[5]) then
        redis.call('SET', KEYS[1], owner, 'PX', ARGV[2])
        return {0, owner}
    end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
return {1, ARGV[1]}
"""
)

# KEYS: lease, owner. ARGV: token, lease ttl (ms), owner ttl (s).
# Extend the lease if the token holds it, or re-take it if it lapsed and no other scan
# owns the profile.
REFRESH_LOCK = """
local lease = redis.call('GET', KEYS[1])
if lease == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
    return 1
elseif not lease then
    local owner = redis.call('GET', KEYS[2])
    if owner and owner ~= ARGV[1] then
        return 0
    end
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
    return 2
end
return 0
"""

# KEYS: lease, owner, scan hash. Like REFRESH_LOCK, but only for a scan still
# queued/running, so a late job of an ended scan (an orphaned work horse) never re-takes
# the lock.
KEEP_LOCK = (
    """
local state = redis.call('HGET', KEYS[3], 'state')
if state ~= 'queued' and state ~= 'running' then
    return 0
end"""
    + REFRESH_LOCK
)

RELEASE_LOCK = (
    LUA_HELPERS
    + """
local held = redis.call('GET', KEYS[1]) == ARGV[1]
release(KEYS[1], KEYS[2], ARGV[1])
if held then
    return 1
end
return 0
"""
)


# KEYS: scan hash, outcomes hash, done set, failed set
# ARGV: ttl, now, then (symbol, outcome json, failed 0/1) triples
RECORD = """
if redis.call('EXISTS', KEYS[1]) == 0 then
    return {-1, 0, 0}
end
local added = 0
for i = 3, #ARGV, 3 do
    if redis.call('SADD', KEYS[3], ARGV[i]) == 1 then
        added = added + 1
        redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
        if ARGV[i + 2] == '1' then
            redis.call('SADD', KEYS[4], ARGV[i])
        end
    end
end
local done = redis.call('SCARD', KEYS[3])
local failed = redis.call('SCARD', KEYS[4])
redis.call('HSET', KEYS[1], 'done', done, 'failed', failed, 'updated_at', ARGV[2])
for k = 1, 4 do
    redis.call('EXPIRE', KEYS[k], ARGV[1])
end
return {added, done, failed}
"""

# A Lua function that ends a scan: store the result, set the state, release the lock
# (lease and owner), take the scan out of the in-flight index and give every per-scan
# key the state's TTL. 1 when done, 0 when it had already ended, -1 when its state
# vanished (it leaves the index in every case: it is not in flight any more).
# keys: scan hash, result key, lease, owner, in-flight index, then every other per-scan
# key (for the TTL)
END_SCAN = (
    LUA_HELPERS
    + """
local function end_scan(keys, token, state, finished_at, message, result, ttl)
    redis.call('SREM', keys[5], token)
    if redis.call('EXISTS', keys[1]) == 0 then
        return -1
    end
    local now = redis.call('HGET', keys[1], 'state')
    if now == 'finished' or now == 'failed' or now == 'skipped' then
        return 0
    end
    if result ~= '' then
        redis.call('SET', keys[2], result, 'EX', ttl)
    end
    redis.call('HSET', keys[1], 'state', state, 'finished_at', finished_at, 'message', message)
    if state ~= 'finished' then
        redis.call('HSET', keys[1], 'error', message)
    end
    release(keys[3], keys[4], token)
    for k = 6, #keys do
        redis.call('EXPIRE', keys[k], ttl)
    end
    redis.call('EXPIRE', keys[1], ttl)
    return 1
end
"""
)

# KEYS: as end_scan's. ARGV: token (scan id), state, finished_at, message, result json
# ('' for none), ttl
END = END_SCAN + "return end_scan(KEYS, ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])"

# The coordinator takes its scan: a scan still queued past its start_by fails ("no
# worker took it"), whoever comes late. KEYS: as end_scan's. ARGV: scan id, finished_at,
# message, ttl, taken_at. Returns 'gone', 'late', the terminal state, or 'taken'.
TAKE = (
    END_SCAN
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
    return 'gone'
end
if state ~= 'queued' and state ~= 'running' then
    return state
end
if never_started(KEYS[1]) then
    end_scan(KEYS, ARGV[1], 'failed', ARGV[2], ARGV[3], '', ARGV[4])
    return 'late'
end
redis.call('HSETNX', KEYS[1], 'taken_at', ARGV[5])
return 'taken'
"""
)

# What `status` may say of a scan, atomically. KEYS: end_scan's eight, then its
# coordinator's and aggregator's job hashes. ARGV: scan id, finished_at, the "no worker
# took it" message, ttl. Returns {verdict, lease holder}: 'gone', 'late' (just ended
# failed), 'ended', 'alive' (a job of it will still run), 'held' (it holds the lease)
# or 'dead'.
INSPECT = (
    END_SCAN
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
    return {'gone', ''}
end
if state ~= 'queued' and state ~= 'running' then
    return {'ended', ''}
end
if never_started(KEYS[1]) then
    local scan = {}
    for k = 1, 8 do
        scan[k] = KEYS[k]
    end
    end_scan(scan, ARGV[1], 'failed', ARGV[2], ARGV[3], '', ARGV[4])
    return {'late', ''}
end
if alive(KEYS[1], KEYS[9], KEYS[10]) then
    return {'alive', ''}
end
local lease = redis.call('GET', KEYS[3]) or ''
if lease == ARGV[1] then
    return {'held', lease}
end
return {'dead', lease}
"""
)

# Publishing to the sinks happens at most once per scan. KEYS: scan hash. ARGV: when.
# 1: this caller publishes; 0: an earlier run already did (or the scan has ended);
# -1: the scan's state vanished.
MARK_PUBLISHED = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
    return -1
end
if state ~= 'queued' and state ~= 'running' then
    return 0
end
return redis.call('HSETNX', KEYS[1], 'published_at', ARGV[1])
"""


# Prune the in-flight index: KEYS: the index, then the progress hashes of the scan ids
# in ARGV (in order). Each scan whose hash is gone or whose state is neither queued nor
# running leaves the index; the state is read here, atomically, so a scan that is in
# flight when the script runs always stays. Returns how many left.
PRUNE_IN_FLIGHT = """
local removed = 0
for i = 2, #KEYS do
    local state = redis.call('HGET', KEYS[i], 'state')
    if state ~= 'queued' and state ~= 'running' then
        removed = removed + redis.call('SREM', KEYS[1], ARGV[i - 1])
    end
end
return removed
"""
