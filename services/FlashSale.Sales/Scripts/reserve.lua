-- The stock gate: for each of n orders of one sale, in the order given, one atomic step decides window, idempotency,
-- per-user limit and stock, then takes the stock and appends the order to the sale's stream (the outbox). n orders in one
-- call give the same answers as n calls one after the other (Redis runs a script alone); the orders service sends the
-- orders that queued up while its previous call was in flight together (see ReserveBatcher).
-- KEYS: 1 meta, 2 remaining, 3 limit, 4 bought (field user|sku), 5 stream, 6 reserved, 7 price, then n idempotency keys
-- ARGV: 1 idempotency ttl seconds, then n x (user id, sku, quantity, new order id, idempotency key (raw), buyer e-mail)
-- Returns n x (status, value, detail): 'OK', orderId, remaining | 'DUP', orderId, '' | 'ERR', reason, detail
local n = #KEYS - 7
local out = {}
local function answer(status, value, detail)
  out[#out + 1] = status
  out[#out + 1] = value
  out[#out + 1] = detail
end
local window = redis.call('HMGET', KEYS[1], 'starts_at_ms', 'ends_at_ms')
if not window[1] then
  for _ = 1, n do answer('ERR', 'UNKNOWN_SALE', '') end
  return out
end
local starts = tonumber(window[1])
local ends = tonumber(window[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = ARGV[1]
local stamp = tostring(now)
for i = 0, n - 1 do
  local a = 2 + i * 6
  local user, sku, quantity, id = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local idempotency = KEYS[8 + i]
  local qty = tonumber(quantity)
  local fingerprint = sku .. '|' .. quantity
  local previous = redis.call('GET', idempotency)
  if previous then
    local sep = string.find(previous, '#', 1, true)
    if string.sub(previous, 1, sep - 1) == fingerprint then
      answer('DUP', string.sub(previous, sep + 1), '')
    else
      answer('ERR', 'IDEMPOTENCY_MISMATCH', '')
    end
  elseif now < starts then
    answer('ERR', 'NOT_STARTED', window[1])
  elseif now >= ends then
    answer('ERR', 'ENDED', tostring(ends))
  else
    local remaining = redis.call('HGET', KEYS[2], sku)
    if not remaining then
      answer('ERR', 'UNKNOWN_SKU', '')
    else
      remaining = tonumber(remaining)
      local limit = tonumber(redis.call('HGET', KEYS[3], sku))
      local field = user .. '|' .. sku
      local bought = tonumber(redis.call('HGET', KEYS[4], field) or '0')
      if bought + qty > limit then
        answer('ERR', 'LIMIT_REACHED', tostring(limit - bought))
      elseif remaining < qty then
        answer('ERR', 'SOLD_OUT', tostring(remaining))
      else
        redis.call('HINCRBY', KEYS[2], sku, -qty)
        redis.call('HINCRBY', KEYS[4], field, qty)
        redis.call('HINCRBY', KEYS[6], sku, qty)
        redis.call('SET', idempotency, fingerprint .. '#' .. id, 'EX', ttl)
        local price = redis.call('HGET', KEYS[7], sku) or '0'
        redis.call('XADD', KEYS[5], '*', 'id', id, 'user', user, 'sku', sku, 'qty', quantity, 'price', price,
          'key', ARGV[a + 4], 'ts', stamp, 'email', ARGV[a + 5])
        answer('OK', id, tostring(remaining - qty))
      end
    end
  end
end
return out
