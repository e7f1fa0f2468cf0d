-- A task lets go of one blob; the last task to let go learns it may delete the file.
--
-- KEYS[1]  the blob's reference set   KEYS[2] the task's blob set
-- ARGV[1]  task id   ARGV[2] blob key
-- Result:  1 when no task uses the blob any more (delete it), else 0
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
