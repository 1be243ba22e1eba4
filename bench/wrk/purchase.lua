-- wrk script: durable POST /v1/purchases, each with its own Idempotency-Key, by the users of a
-- data set from POST /bench/seed (regulars-bench seed --seed-file FILE writes one), all at
-- the first merchant of the file. Used for the issue notes' wrk figures:
--
--   SEED=/tmp/seed.ndjson wrk -t1 -c64 -d10s -s bench/wrk/purchase.lua http://127.0.0.1:8080
--
-- Only 201 answers are purchases; wrk reports any other status as "Non-2xx".
local users, key = {}, nil
local f = assert(io.open(os.getenv("SEED") or "seed.ndjson"))
for line in f:lines() do
    local kind = line:match('"kind":"(%a+)"')
    local id, secret = line:match('"id":"([^"]+)"'), line:match('"secret":"([^"]+)"')
    if kind == "user" then
        users[#users + 1] = id
    elseif kind == "merchant" and not key then
        key = secret
    end
end
f:close()
assert(key and #users > 0, "no merchant or users in the seed file")

-- Each wrk thread runs its own copy of this script: setup() numbers them so that their keys
-- never collide.
local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

local n = 0
local run = tostring(os.time())
request = function()
    n = n + 1
    local body = '{"user_id":"' .. users[n % #users + 1] .. '","amount":10000}'
    return wrk.format("POST", "/v1/purchases", {
        ["Authorization"] = "Bearer " .. key,
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = "wrk-" .. run .. "-" .. tostring(tid) .. "-" .. n,
    }, body)
end
