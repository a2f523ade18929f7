/**
 * The Redis side of the offload: two Lua scripts, each over a bounded chunk of records so that one call stays well
 * under a millisecond inside Redis (other clients wait at most that long behind it).
 *
 * Key layout of both: with an index, KEYS[1] is the index and the records are KEYS[2..]; without, the records are
 * KEYS[1..]. ARGV[1] is "1" when KEYS[1] is the index.
 */

/** Both scripts' start: `first` is the first record's index in KEYS, `it` the index's type (nil without one). */
const INDEX_PREAMBLE = `
local first = 1
local it = nil
if ARGV[1] == '1' then
  first = 2
  it = redis.call('TYPE', KEYS[1]).ok
end
`;

/**
 * Reads a chunk of records and, with an index, whether each one's member is in it, in one atomic step. With an index,
 * ARGV[i] (i ≥ 2) is the member of KEYS[i]; the record's key counts as a member too. Returns, per record, three
 * elements: its type as a number ({@link READ_TYPES}: integers cost the client no allocation), its content (the GET
 * value, the HGETALL pairs, or "" for other types) and 1 or 0 (in the index).
 */
export const READ_SCRIPT = `${INDEX_PREAMBLE}
local codes = { none = 0, string = 1, hash = 2 }
local out = {}
for i = first, #KEYS do
  local k = KEYS[i]
  local t = redis.call('TYPE', k).ok
  local member = 0
  if it == 'zset' then
    if redis.call('ZSCORE', KEYS[1], ARGV[i]) or redis.call('ZSCORE', KEYS[1], k) then member = 1 end
  elseif it == 'set' then
    if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 or redis.call('SISMEMBER', KEYS[1], k) == 1 then member = 1 end
  end
  local content = ''
  if t == 'hash' then content = redis.call('HGETALL', k) elseif t == 'string' then content = redis.call('GET', k) end
  out[#out + 1] = codes[t] or 3
  out[#out + 1] = content
  out[#out + 1] = member
end
return out
`;

/** The type codes {@link READ_SCRIPT} returns, by code. */
export const READ_TYPES = ["none", "string", "hash", "other"] as const;

/**
 * Compare-and-delete of a chunk of records, atomic: each record (and its index member) is deleted only when it still
 * holds exactly what was archived. ARGV[2] is "1" when the member must still be in the index; then, per record in
 * KEYS order: its type ("hash" | "string"), its member, the count n of expected values, and the n values: for a string,
 * the SHA-1 (hex) of "s" followed by the value, and the value's length in bytes; for a hash, the field/value pairs,
 * compared byte for byte. Returns one outcome per record: 1 deleted, 0 changed (left alone), -1 gone already.
 */
export const COMPARE_AND_DELETE_SCRIPT = `${INDEX_PREAMBLE}
local onlyIndexed = ARGV[2] == '1'
local a = 3
local out = {}
for i = first, #KEYS do
  local k = KEYS[i]
  local want, member, n = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local e = a + 3
  a = e + n
  local r = 1
  if want == 'string' then
    -- GET alone tells a string (its value), a missing key (false) and another type (an error: pcall). The value is
    -- compared by its length and the digest the archive row carries (Redis hashes 500 bytes in about 1.5 µs; sending
    -- the value back would cost the client several times that)
    local v = redis.pcall('GET', k)
    if v == false then
      r = -1
    elseif type(v) ~= 'string' or #v ~= tonumber(ARGV[e + 1]) or redis.sha1hex('s' .. v) ~= ARGV[e] then
      r = 0
    end
  else
    local t = redis.call('TYPE', k).ok
    if t == 'none' then
      r = -1
    elseif t ~= want or redis.call('HLEN', k) ~= n / 2 then
      r = 0
    else
      for j = e, e + n - 1, 2 do
        if redis.call('HGET', k, ARGV[j]) ~= ARGV[j + 1] then
          r = 0
          break
        end
      end
    end
  end
  if r == 1 and first == 2 then
    local removed = 1
    if it == 'zset' then
      removed = redis.call('ZREM', KEYS[1], member, k)
    elseif it == 'set' then
      removed = redis.call('SREM', KEYS[1], member, k)
    else
      removed = 0
    end
    if removed == 0 and onlyIndexed then r = 0 end
  end
  if r == 1 then redis.call('UNLINK', k) end
  out[#out + 1] = r
end
return out
`;
