-- dramatiq-results: the Redis broker's one script (documented in src/brokers/redis/mod.rs).
--
-- It keeps Dramatiq 2.2.1's key layout and has the same effect on those keys as
-- Dramatiq's own dispatch script, so Python and JavaScript workers can share queues.
--
-- KEYS[1]  namespace ("dramatiq")
-- ARGV     command, now (ms), queue, worker id, heartbeat timeout (ms),
--          dead-message TTL (ms), maintenance ("1" or "0"), then the command's arguments:
--   enqueue  id, body          hash write + push on the tail; replies nil
--   fetch    count [max_bytes max_body]
--                              pops up to count ids from the head into this worker's ack
--                              set; replies {id, body} per id (nil where the hash has
--                              none), so the worker settles a message by the id it is
--                              stored under, whatever its body's redis_message_id says.
--                              With max_bytes, stops before the bodies taken would pass
--                              it (a first fitting one is always taken), and a body over
--                              max_body is taken but replied as {id, size}, not sent.
--   ack      id                forgets an acked message; replies nil
--   nack     id                dead-letters it (scored by now); replies nil
--   requeue  id...             gives unacked ids back to the queue's tail; replies nil
--   release  [stopped]         called as a dead worker (its id as the worker id): gives
--                              every id it holds from the queue back to the tail, at once
--                              rather than after the heartbeat timeout, and forgets the
--                              worker once it holds nothing, unless it "stopped" cleanly
--                              (a stopped Python worker's heartbeat stays until
--                              maintenance drops it); replies nil
--   purge                      drops the queue, its hash, its dead letters; replies nil
--   qsize                      messages held for the queue and its delay queue; integer
--
-- Keys ("<q>" is the queue as given, "<base>" the queue without a ".DQ" suffix):
--   <ns>:<q>                        list of message ids (push right, pop left)
--   <ns>:<q>.msgs                   hash id -> encoded message
--   <ns>:<base>.XQ                  zset of dead-lettered ids, scored by when (ms)
--   <ns>:<base>.XQ.msgs             hash id -> encoded message
--   <ns>:__acks__.<worker>.<q>      set of ids a worker holds but has not settled
--   <ns>:__heartbeats__             zset of worker ids, scored by their last call (ms)

local ns = KEYS[1]
local command = ARGV[1]
local now = tonumber(ARGV[2])
local queue = ARGV[3]
local worker = ARGV[4]
local heartbeat_timeout = tonumber(ARGV[5])
local dead_message_ttl = tonumber(ARGV[6])
local maintenance = ARGV[7] == "1"

-- Commands and maintenance pass ids to Redis in slices of this size, so that no unpack
-- comes near Lua's C-stack limit (LUAI_MAXCSTACK, 8000 in Redis).
local SLICE = 1000

local heartbeats = ns .. ":__heartbeats__"
local acks_of = ns .. ":__acks__."
local base = queue
if string.sub(queue, -3) == ".DQ" then
    base = string.sub(queue, 1, -4)
end
local list = ns .. ":" .. queue
local bodies = list .. ".msgs"
local dead = ns .. ":" .. base .. ".XQ"
local dead_bodies = dead .. ".msgs"
local held = acks_of .. worker .. "." .. queue

-- Calls fn with ids[first..last] as arguments, SLICE ids at a time.
local function in_slices(ids, fn)
    local n = #ids
    for first = 1, n, SLICE do
        fn(unpack(ids, first, math.min(first + SLICE - 1, n)))
    end
end

-- Every call is this worker's heartbeat.
redis.call("ZADD", heartbeats, ARGV[2], worker)

if maintenance then
    -- Workers silent for longer than the heartbeat timeout are dead: what they held from
    -- this queue goes back on its tail (when its body is still there), and a dead worker
    -- holding nothing anywhere leaves the heartbeat set.
    local silent = redis.call("ZRANGEBYSCORE", heartbeats, 0, now - heartbeat_timeout)
    for _, other in ipairs(silent) do
        local other_held = acks_of .. other .. "." .. queue
        local ids = redis.call("SMEMBERS", other_held)
        if #ids > 0 then
            for _, id in ipairs(ids) do
                if redis.call("HEXISTS", bodies, id) == 1 then
                    redis.call("RPUSH", list, id)
                end
            end
            redis.call("DEL", other_held)
        end
        if #redis.call("KEYS", acks_of .. other .. "*") == 0 then
            redis.call("ZREM", heartbeats, other)
        end
    end

    -- Dead letters older than the TTL are dropped.
    local expired = redis.call("ZRANGEBYSCORE", dead, 0, now - dead_message_ttl)
    in_slices(expired, function(...)
        redis.call("ZREM", dead, ...)
        redis.call("HDEL", dead_bodies, ...)
    end)
end

if command == "enqueue" then
    redis.call("HSET", bodies, ARGV[8], ARGV[9])
    redis.call("RPUSH", list, ARGV[8])
    return nil

elseif command == "fetch" then
    local want = math.min(tonumber(ARGV[8]) or 0, SLICE)
    local max_bytes = tonumber(ARGV[9])
    if max_bytes then
        -- Bounded in bytes as well as in count, so big messages come in batches a
        -- worker's memory can take; one too big to take at all is named, not sent.
        local max_body = tonumber(ARGV[10]) or max_bytes
        local reply = {}
        local total = 0
        for i = 1, want do
            local id = redis.call("LINDEX", list, 0)
            if not id then
                break
            end
            local size = redis.call("HSTRLEN", bodies, id)
            local oversize = size > max_body
            if not oversize and total > 0 and total + size > max_bytes then
                break
            end
            redis.call("LPOP", list)
            redis.call("SADD", held, id)
            if oversize then
                reply[i] = {id, size}
            else
                total = total + size
                local body = redis.call("HGET", bodies, id)
                reply[i] = body and {id, body} or false
            end
        end
        return reply
    end
    local ids = {}
    for i = 1, want do
        local id = redis.call("LPOP", list)
        if not id then
            break
        end
        ids[i] = id
        redis.call("SADD", held, id)
    end
    if #ids == 0 then
        return {}
    end
    local found = redis.call("HMGET", bodies, unpack(ids))
    local reply = {}
    for i = 1, #ids do
        reply[i] = found[i] and {ids[i], found[i]} or false
    end
    return reply

elseif command == "ack" then
    if redis.call("SREM", held, ARGV[8]) == 1 then
        redis.call("HDEL", bodies, ARGV[8])
    end
    return nil

elseif command == "nack" then
    local id = ARGV[8]
    if redis.call("SREM", held, id) == 1 then
        local body = redis.call("HGET", bodies, id)
        if body then
            redis.call("ZADD", dead, ARGV[2], id)
            redis.call("HSET", dead_bodies, id, body)
            redis.call("HDEL", bodies, id)
        end
    end
    return nil

elseif command == "requeue" then
    for i = 8, #ARGV do
        local id = ARGV[i]
        if redis.call("SREM", held, id) == 1 and redis.call("HEXISTS", bodies, id) == 1 then
            redis.call("RPUSH", list, id)
        end
    end
    return nil

elseif command == "release" then
    -- Called as the dead worker (its id in ARGV[4]), so no other worker's heartbeat is
    -- left behind by the call itself.
    local ids = redis.call("SMEMBERS", held)
    for _, id in ipairs(ids) do
        if redis.call("HEXISTS", bodies, id) == 1 then
            redis.call("RPUSH", list, id)
        end
    end
    redis.call("DEL", held)
    if ARGV[8] ~= "stopped" and #redis.call("KEYS", acks_of .. worker .. ".*") == 0 then
        redis.call("ZREM", heartbeats, worker)
    end
    return nil

elseif command == "purge" then
    redis.call("DEL", list, held, bodies, dead, dead_bodies)
    return nil

elseif command == "qsize" then
    local mine = acks_of .. worker .. "." .. base
    local plain = ns .. ":" .. base
    return redis.call("HLEN", plain .. ".DQ.msgs") + redis.call("SCARD", mine .. ".DQ")
        + redis.call("HLEN", plain .. ".msgs") + redis.call("SCARD", mine)
end

return redis.error_reply("dramatiq-results dispatch: unknown command " .. tostring(command))
