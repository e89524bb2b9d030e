-- The stock gate: for each of n orders of one sale, in the order given, decides window, idempotency, per-user limit and
-- stock, then takes the stock and appends the accepted orders to the sale's stream (the outbox). n orders in one call give
-- the same answers as n calls one after the other (Redis runs a script alone); the orders service sends the orders that
-- queued up while its previous call was in flight together (see ReserveBatcher).
-- KEYS: 1 meta, 2 remaining, 3 limit, 4 bought (field user|sku), 5 stream, 6 reserved, 7 price, then n idempotency keys,
--       then optionally the pending index (hash order id -> stream entry id of the orders not yet relayed)
-- ARGV: 1 idempotency ttl seconds, then n x (user id, sku, quantity, new order id, idempotency key (raw), buyer e-mail)
-- Returns n x (status, value, detail): 'OK', orderId, remaining | 'DUP', orderId, '' | 'ERR', reason, detail
--
-- Two phases. The first decides every order with reads only, keeping what the orders before it took in Lua tables (stock
-- left per sku, units held per buyer, keys used in this call). The second writes: each sku's stock and reserved units
-- once for the whole call, each buyer's holding once, then per accepted order its key and its stream entry. Each write
-- Redis propagates to the AOF costs more than the command itself, so the stock counters once per call instead of once per
-- order take a sixth off the script's cost (scripts/reserve-cost.sh). A call writes all of its accepted orders or
-- nothing: the key types are checked before the first write, and once a script has written, Redis no longer refuses its
-- writes for memory.
local n = (#ARGV - 1) / 6
local pending = #KEYS == 8 + n and KEYS[8 + n] or nil
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

local skus = {}      -- sku -> { left, limit, price, taken } or false (unknown sku)
local held = {}      -- user|sku -> units held, including this call's accepted orders
local added = {}     -- user|sku -> units this call adds
local fields = {}    -- user|sku fields in the order first added
local decided = {}   -- idempotency key -> stored value, for keys used earlier in this call
local accepted = {}  -- index of each accepted order

for i = 0, n - 1 do
  local a = 2 + i * 6
  local user, sku, quantity = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local idempotency = KEYS[8 + i]
  local qty = tonumber(quantity)
  local fingerprint = sku .. '|' .. quantity
  local previous = decided[idempotency] or redis.call('GET', idempotency)
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
    local s = skus[sku]
    if s == nil then
      local left = redis.call('HGET', KEYS[2], sku)
      if left then
        s = { tonumber(left), tonumber(redis.call('HGET', KEYS[3], sku)), redis.call('HGET', KEYS[7], sku) or '0', 0 }
      else
        s = false
      end
      skus[sku] = s
    end
    if not s then
      answer('ERR', 'UNKNOWN_SKU', '')
    else
      local field = user .. '|' .. sku
      local bought = held[field]
      if bought == nil then
        bought = tonumber(redis.call('HGET', KEYS[4], field) or '0')
        held[field] = bought
      end
      if bought + qty > s[2] then
        answer('ERR', 'LIMIT_REACHED', tostring(s[2] - bought))
      elseif s[1] < qty then
        answer('ERR', 'SOLD_OUT', tostring(s[1]))
      else
        s[1] = s[1] - qty
        s[4] = s[4] + qty
        held[field] = bought + qty
        if not added[field] then
          added[field] = 0
          fields[#fields + 1] = field
        end
        added[field] = added[field] + qty
        decided[idempotency] = fingerprint .. '#' .. ARGV[a + 3]
        accepted[#accepted + 1] = i
        answer('OK', ARGV[a + 3], tostring(s[1]))
      end
    end
  end
end

if #accepted == 0 then return out end
-- A key of another type would make a write below fail after others were done: refuse the call before writing anything
-- (the hashes read above already did: a read of the wrong type fails too).
if type(redis.pcall('XLEN', KEYS[5])) == 'table' or type(redis.pcall('HLEN', KEYS[6])) == 'table'
    or (pending and type(redis.pcall('HLEN', pending)) == 'table') then
  return redis.error_reply('WRONGTYPE reserve.lua: the stream or the reserved units of this sale hold another type')
end
for sku, s in pairs(skus) do
  if s and s[4] > 0 then
    redis.call('HINCRBY', KEYS[2], sku, -s[4])
    redis.call('HINCRBY', KEYS[6], sku, s[4])
  end
end
for _, field in ipairs(fields) do
  redis.call('HINCRBY', KEYS[4], field, added[field])
end
-- One stream field per order (OrderStreamEntry): id|user|quantity|price|ts|sku|length of key|key|email. The pending index
-- lets a GET or a payment find an order the relay has not written to PostgreSQL yet; one HSET per call.
local index = {}
for _, i in ipairs(accepted) do
  local a = 2 + i * 6
  local sku, quantity, id, key = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  redis.call('SET', KEYS[8 + i], sku .. '|' .. quantity .. '#' .. id, 'EX', ttl)
  local entry = redis.call('XADD', KEYS[5], '*', 'o',
    id .. '|' .. ARGV[a] .. '|' .. quantity .. '|' .. skus[sku][3] .. '|' .. stamp .. '|' .. sku .. '|' .. #key .. '|' .. key .. '|' .. ARGV[a + 5])
  index[#index + 1] = id
  index[#index + 1] = entry
end
if pending then redis.call('HSET', pending, unpack(index)) end
return out
