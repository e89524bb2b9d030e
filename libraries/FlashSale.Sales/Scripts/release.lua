-- Returns the quantity of one order to stock, exactly once per order id.
-- KEYS: 1 remaining, 2 bought, 3 released (units), 4 released orders (set), 5 initial, 6 meta
-- ARGV: 1 order id, 2 user id, 3 sku, 4 quantity, 5 the order's reserve time (ms, Redis's clock as reserve.lua stamped it)
-- Returns 1 when released now, 0 when it had been released before, -1 when Redis does not hold the sale (deleted, or lost
-- with Redis's data), -2 when the order is older than the sale (an earlier sale of the same name, deleted and applied
-- again): nothing is written in those two cases, since counters created here would be keys of no sale, never removed, and
-- the units of an earlier sale's order would be added to this sale's stock.
if redis.call('EXISTS', KEYS[5]) == 0 then return -1 end
if tonumber(ARGV[5]) < tonumber(redis.call('HGET', KEYS[6], 'created_at_ms') or '0') then return -2 end
if redis.call('SADD', KEYS[4], ARGV[1]) == 0 then return 0 end
local qty = tonumber(ARGV[4])
redis.call('HINCRBY', KEYS[1], ARGV[3], qty)
redis.call('HINCRBY', KEYS[2], ARGV[2] .. '|' .. ARGV[3], -qty)
redis.call('HINCRBY', KEYS[3], ARGV[3], qty)
return 1
