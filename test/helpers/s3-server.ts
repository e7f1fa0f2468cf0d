/** s3rver for the tests: see server/process/s3-server.ts (the benches use it too). */
export * from '../../server/process/s3-server.ts';
