/**
 * Clips for the Live view's tests and benchmark, made with ffmpeg from a fixture photo so that they are
 * reproducible: the astronaut (240 px) over a 480×360 grey frame at 15 fps, either panning right for 3 s
 * and back (so that a looping fake camera never jumps), or still. `.y4m` plays on Chromium's fake camera
 * (--use-file-for-fake-video-capture); `.webm` (VP8) plays as a video file in the page.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { FIXTURES } from './api.ts';

export type ClipKind = 'pan' | 'still';

const FILTERS: Record<ClipKind, string> = {
  pan: "[0]scale=240:240[a];[1][a]overlay=x='if(lt(t,3),t/3*220,(6-t)/3*220)':y=60:eval=frame:shortest=1,format=yuv420p",
  still: '[0]scale=240:240[a];[1][a]overlay=x=120:y=60:shortest=1,format=yuv420p',
};

/** Writes the clip to `dir` and returns its path (`ext` picks the container: y4m raw, or webm VP8). */
export function makeClip(dir: string, kind: ClipKind, ext: 'y4m' | 'webm', photo = 'astronaut.png'): string {
  const out = path.join(dir, `${kind}.${ext}`);
  const args = [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-loop', '1', '-i', path.join(FIXTURES, photo)],
    ...['-f', 'lavfi', '-i', 'color=c=0x808080:s=480x360:r=15'],
    ...['-filter_complex', FILTERS[kind]],
    ...['-t', kind === 'pan' ? '6' : '4'],
    ...(ext === 'webm' ? ['-c:v', 'libvpx', '-b:v', '1M'] : []),
    out,
  ];
  execFileSync('ffmpeg', args);
  return out;
}

/** Chromium's switches for a fake camera playing `file`. */
export function fakeCamera(file: string): string[] {
  return ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${file}`];
}
