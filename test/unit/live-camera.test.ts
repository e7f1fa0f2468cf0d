/** The browser's getUserMedia errors → what the Live view tells the user (web/src/live/camera.ts). */
import { describe, expect, it } from 'vitest';
import { CameraError, cameraError } from '../../web/src/live/camera.ts';

describe('cameraError', () => {
  it.each([
    ['NotFoundError', 'no_camera', /No camera was found/],
    ['OverconstrainedError', 'no_camera', /No camera was found/],
    ['NotAllowedError', 'permission_denied', /not allowed for this page/],
    ['SecurityError', 'permission_denied', /not allowed for this page/],
    ['NotReadableError', 'camera_busy', /in use by another app/],
    ['AbortError', 'camera_busy', /in use by another app/],
    ['TypeError', 'failed', /could not be opened \(boom\)/],
  ])('%s → %s', (name, code, message) => {
    const e = cameraError(new DOMException('boom', name));
    expect(e).toBeInstanceOf(CameraError);
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
  });

  it('a CameraError passes through unchanged', () => {
    const e = new CameraError('unsupported', 'no getUserMedia');
    expect(cameraError(e)).toBe(e);
  });
});
