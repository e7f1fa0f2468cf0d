/**
 * The Live view's sources: a camera (getUserMedia), chosen from the device's cameras and remembered
 * in this browser, or a video file the user picked (played through the same pipeline). Owns opening
 * and releasing them, and turns the browser's errors into what a user can act on.
 */

/** Why a camera could not be opened, in the user's terms (data-error in the page: tests read it). */
export type CameraErrorCode = 'no_camera' | 'permission_denied' | 'camera_busy' | 'unsupported' | 'failed';

export class CameraError extends Error {
  constructor(
    readonly code: CameraErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CameraError';
  }
}

const MESSAGES: Record<CameraErrorCode, string> = {
  no_camera: 'No camera was found on this device. You can play a video file instead.',
  permission_denied:
    'The camera is not allowed for this page. Allow it in the browser’s site settings, then press Start again.',
  camera_busy: 'The camera is in use by another app. Close it there, then press Start again.',
  unsupported: 'This browser cannot open a camera here (it needs a secure page, https or localhost).',
  failed: 'The camera could not be opened',
};

/** The browser's DOMException names (Media Capture and Streams §9.2) → what the user can do about it. */
export function cameraError(err: unknown): CameraError {
  if (err instanceof CameraError) return err;
  const name = (err as { name?: string })?.name ?? '';
  const code: CameraErrorCode =
    name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError'
      ? 'no_camera'
      : name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError'
        ? 'permission_denied'
        : name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError'
          ? 'camera_busy'
          : 'failed';
  // DOMException is not an Error subclass in every engine: read its message as a plain field.
  const said = (err as { message?: unknown })?.message;
  const detail = code !== 'failed' ? '' : typeof said === 'string' && said ? ` (${said}).` : '.';
  return new CameraError(code, MESSAGES[code] + detail);
}

export interface CameraChoice {
  /** A device id (from enumerateDevices), or one of the two facings. */
  deviceId?: string;
  facing?: 'user' | 'environment';
}

const CHOSEN = 'twinlens.camera';

/** The camera chosen last in this browser (ids are per origin and device: remembered here only). */
export function rememberedCamera(): CameraChoice {
  try {
    const raw = localStorage.getItem(CHOSEN);
    if (raw) return JSON.parse(raw) as CameraChoice;
  } catch {
    // a damaged entry: the default camera
  }
  return { facing: 'environment' };
}

export function rememberCamera(choice: CameraChoice): void {
  localStorage.setItem(CHOSEN, JSON.stringify(choice));
}

/** The device's cameras. Their names are empty until the camera was allowed once (the browser's rule). */
export async function listCameras(): Promise<MediaDeviceInfo[]> {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  const all = await navigator.mediaDevices.enumerateDevices().catch(() => []);
  return all.filter((d) => d.kind === 'videoinput');
}

/**
 * Opens the camera: 640×480 is asked for (the model sees at most 512 px; a larger frame only costs
 * copying), at most 30 frames a second. A remembered camera that is gone falls back to any camera.
 */
export async function openCamera(choice: CameraChoice): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) throw new CameraError('unsupported', MESSAGES.unsupported);
  const base: MediaTrackConstraints = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } };
  const wanted: MediaTrackConstraints = choice.deviceId
    ? { ...base, deviceId: { exact: choice.deviceId } }
    : { ...base, facingMode: { ideal: choice.facing ?? 'environment' } };
  try {
    return await navigator.mediaDevices.getUserMedia({ video: wanted, audio: false });
  } catch (err) {
    const name = (err as { name?: string })?.name;
    if (choice.deviceId && (name === 'OverconstrainedError' || name === 'NotFoundError')) {
      try {
        return await navigator.mediaDevices.getUserMedia({ video: base, audio: false });
      } catch (again) {
        throw cameraError(again);
      }
    }
    throw cameraError(err);
  }
}

/** Ends every track of the stream: the camera's light goes off, another app may take it. */
export function releaseStream(stream: MediaStream | null | undefined): void {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
