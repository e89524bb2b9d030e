-- Preloads (or updates) one sale. Idempotent; never overwrites a running sale:
-- a higher stock adds the difference, a lower one is accepted only down to what is already sold.
-- KEYS: 1 meta, 2 remaining, 3 initial, 4 limit, 5 price, 6 reserved, 7 released, 8 registry (set of sales), 9 names
-- ARGV: 1 sale id, 2 starts_at_ms, 3 ends_at_ms, 4 payment_timeout_ms, 5 currency, 6 n, then n x (sku, stock, limit, price, name)
local n = tonumber(ARGV[6])
-- validate everything before writing anything
for i = 0, n - 1 do
  local sku = ARGV[7 + i * 5]
  local stock = tonumber(ARGV[8 + i * 5])
  local initial = redis.call('HGET', KEYS[3], sku)
  if initial then
    local sold = tonumber(redis.call('HGET', KEYS[6], sku) or '0') - tonumber(redis.call('HGET', KEYS[7], sku) or '0')
    if stock < sold then
      return {'ERR', 'STOCK_BELOW_SOLD', sku, tostring(stock), tostring(sold)}
    end
  end
end
-- When this sale came to be in Redis (Redis's clock, as reserve.lua stamps orders): release.lua returns nothing to it for
-- an order reserved before, i.e. by an earlier sale of the same name (deleted and applied again). A sale preloaded by an
-- operator before this field existed gets 0, so that all of its orders still release.
if redis.call('HEXISTS', KEYS[1], 'created_at_ms') == 0 then
  local created = '0'
  if redis.call('EXISTS', KEYS[3]) == 0 then
    local t = redis.call('TIME')
    created = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  end
  redis.call('HSET', KEYS[1], 'created_at_ms', created)
end
redis.call('HSET', KEYS[1], 'starts_at_ms', ARGV[2], 'ends_at_ms', ARGV[3], 'payment_timeout_ms', ARGV[4], 'currency', ARGV[5])
redis.call('SADD', KEYS[8], ARGV[1])
local out = {'OK'}
for i = 0, n - 1 do
  local sku = ARGV[7 + i * 5]
  local stock = tonumber(ARGV[8 + i * 5])
  local initial = redis.call('HGET', KEYS[3], sku)
  if not initial then
    redis.call('HSET', KEYS[3], sku, stock)
    redis.call('HSET', KEYS[2], sku, stock)
    redis.call('HSET', KEYS[6], sku, 0)
    redis.call('HSET', KEYS[7], sku, 0)
  else
    local diff = stock - tonumber(initial)
    if diff ~= 0 then
      redis.call('HINCRBY', KEYS[3], sku, diff)
      redis.call('HINCRBY', KEYS[2], sku, diff)
    end
  end
  redis.call('HSET', KEYS[4], sku, ARGV[9 + i * 5])
  redis.call('HSET', KEYS[5], sku, ARGV[10 + i * 5])
  redis.call('HSET', KEYS[9], sku, ARGV[11 + i * 5])
  table.insert(out, sku)
  table.insert(out, redis.call('HGET', KEYS[3], sku))
  table.insert(out, redis.call('HGET', KEYS[2], sku))
end
return out
