/** A Sentinel-managed Redis of the test's own (server/process/redis-sentinel.ts). */
export { SENTINEL_NAME, type SentinelTopology, startSentinelTopology } from '../../server/process/redis-sentinel.ts';
