/**
 * Reads one record and, with an index, whether its member is in it, in one atomic step.
 * KEYS[1] record, KEYS[2] index (optional); ARGV[1] member, ARGV[2] the record's key as a second possible member.
 * Returns { type, content, inIndex } where content is the GET value or the HGETALL pairs ("" for other types).
 */
export const READ_SCRIPT = `
local t = redis.call('TYPE', KEYS[1]).ok
local member = 0
if KEYS[2] then
  local it = redis.call('TYPE', KEYS[2]).ok
  if it == 'zset' then
    if redis.call('ZSCORE', KEYS[2], ARGV[1]) or redis.call('ZSCORE', KEYS[2], ARGV[2]) then member = 1 end
  elseif it == 'set' then
    if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 or redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1 then member = 1 end
  end
end
if t == 'hash' then return {t, redis.call('HGETALL', KEYS[1]), member} end
if t == 'string' then return {t, redis.call('GET', KEYS[1]), member} end
return {t, '', member}
`;

/**
 * Compare-and-delete of one record, atomic: deletes the record (and its index member) only when it still holds
 * exactly what was archived. KEYS[1] record, KEYS[2] index (optional); ARGV[1] "hash" | "string", ARGV[2] member,
 * ARGV[3] "1" when the member must still be in the index, ARGV[4..] the expected value (string) or field/value pairs.
 * Returns 1 deleted, 0 changed (left alone), -1 gone already.
 */
export const COMPARE_AND_DELETE_SCRIPT = `
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return -1 end
if t ~= ARGV[1] then return 0 end
if t == 'string' then
  if redis.call('GET', KEYS[1]) ~= ARGV[4] then return 0 end
else
  if redis.call('HLEN', KEYS[1]) ~= (#ARGV - 3) / 2 then return 0 end
  for i = 4, #ARGV, 2 do
    if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then return 0 end
  end
end
if KEYS[2] then
  local it = redis.call('TYPE', KEYS[2]).ok
  if it == 'zset' then
    local removed = redis.call('ZREM', KEYS[2], ARGV[2], KEYS[1])
    if removed == 0 and ARGV[3] == '1' then return 0 end
  elseif it == 'set' then
    local removed = redis.call('SREM', KEYS[2], ARGV[2], KEYS[1])
    if removed == 0 and ARGV[3] == '1' then return 0 end
  elseif ARGV[3] == '1' then
    return 0
  end
end
redis.call('UNLINK', KEYS[1])
return 1
`;
