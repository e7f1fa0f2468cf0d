/** Real Chromium for the e2e tests: the same driver the benchmarks use (bench/lib/browser.ts). */
export * from '../../bench/lib/browser.ts';
