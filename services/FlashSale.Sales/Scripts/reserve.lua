-- The stock gate: one atomic step decides window, idempotency, per-user limit and stock,
-- then takes the stock and appends the order to the sale's stream (the outbox).
-- KEYS: 1 meta, 2 remaining, 3 limit, 4 bought (field user|sku), 5 idempotency key, 6 stream, 7 reserved, 8 price
-- ARGV: 1 user id, 2 sku, 3 quantity, 4 new order id, 5 idempotency key (raw), 6 idempotency ttl seconds, 7 buyer e-mail
-- Returns {'OK', orderId, remaining} | {'DUP', orderId, ''} | {'ERR', reason, detail}
local window = redis.call('HMGET', KEYS[1], 'starts_at_ms', 'ends_at_ms')
local starts = window[1]
if not starts then return {'ERR', 'UNKNOWN_SALE', ''} end
local sku = ARGV[2]
local qty = tonumber(ARGV[3])
local fingerprint = sku .. '|' .. ARGV[3]
local previous = redis.call('GET', KEYS[5])
if previous then
  local sep = string.find(previous, '#', 1, true)
  if string.sub(previous, 1, sep - 1) == fingerprint then
    return {'DUP', string.sub(previous, sep + 1), ''}
  end
  return {'ERR', 'IDEMPOTENCY_MISMATCH', ''}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now < tonumber(starts) then return {'ERR', 'NOT_STARTED', starts} end
local ends = tonumber(window[2])
if now >= ends then return {'ERR', 'ENDED', tostring(ends)} end
local remaining = redis.call('HGET', KEYS[2], sku)
if not remaining then return {'ERR', 'UNKNOWN_SKU', ''} end
remaining = tonumber(remaining)
local limit = tonumber(redis.call('HGET', KEYS[3], sku))
local field = ARGV[1] .. '|' .. sku
local bought = tonumber(redis.call('HGET', KEYS[4], field) or '0')
if bought + qty > limit then return {'ERR', 'LIMIT_REACHED', tostring(limit - bought)} end
if remaining < qty then return {'ERR', 'SOLD_OUT', tostring(remaining)} end
redis.call('HINCRBY', KEYS[2], sku, -qty)
redis.call('HINCRBY', KEYS[4], field, qty)
redis.call('HINCRBY', KEYS[7], sku, qty)
redis.call('SET', KEYS[5], fingerprint .. '#' .. ARGV[4], 'EX', ARGV[6])
local price = redis.call('HGET', KEYS[8], sku) or '0'
redis.call('XADD', KEYS[6], '*', 'id', ARGV[4], 'user', ARGV[1], 'sku', sku, 'qty', ARGV[3], 'price', price, 'key', ARGV[5], 'ts', tostring(now), 'email', ARGV[7] or '')
return {'OK', ARGV[4], tostring(remaining - qty)}
