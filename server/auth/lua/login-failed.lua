-- Counts a failed login in each of its counters; a counter's window starts at its first failure.
--
-- KEYS[1…] the counters (pair, address, account)
-- ARGV[1]  window (s)
-- Result:  0
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
end
return 0
