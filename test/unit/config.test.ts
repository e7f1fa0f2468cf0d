import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.ts';

describe('loadConfig', () => {
  it('has defaults for everything', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8080);
    expect(c.MODEL).toBe('centernet');
    expect(c.MAX_UPLOAD_BYTES).toBe(10 * 1024 * 1024);
    expect(c.MAX_IMAGE_PIXELS).toBe(40_000_000);
    expect(c.TASK_TTL_SECONDS).toBe(7 * 24 * 3600);
  });

  it('reads sizes with units', () => {
    expect(loadConfig({ MAX_UPLOAD_BYTES: '512kb' }).MAX_UPLOAD_BYTES).toBe(512 * 1024);
    expect(loadConfig({ MAX_UPLOAD_BYTES: '2MB' }).MAX_UPLOAD_BYTES).toBe(2 * 1024 * 1024);
  });

  it('names every bad variable and its value', () => {
    const bad = () => loadConfig({ PORT: 'eighty', MODEL: 'Yolo v8', REDIS_URL: 'http://x', MAX_UPLOAD_BYTES: 'lots' });
    expect(bad).toThrow(ConfigError);
    try {
      bad();
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).toContain('PORT="eighty"');
      expect(msg).toContain('MODEL="Yolo v8"');
      expect(msg).toContain('REDIS_URL="http://x"');
      expect(msg).toContain('MAX_UPLOAD_BYTES="lots"');
    }
  });
});
