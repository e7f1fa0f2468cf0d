/**
 * Whether a photo's embedded ICC profile can be ignored because converting with it to sRGB
 * changes no pixel. sharp converts every image that carries a profile to sRGB (lcms, per pixel):
 * for a 512×512 photo that is ~5 ms of CPU, half of the worker's decode, and most profiles in the
 * wild are sRGB's own (cameras, Photoshop, the 3 KB "sRGB IEC61966-2.1"), which converts to the same
 * bytes. A Display P3 or Adobe RGB profile still converts, so the model sees the colours the browser
 * path sees (a canvas is colour-managed too).
 *
 * Decided by measurement, not by the profile's name: the profile is attached to a grid of colours
 * (a 16-level cube, every grey, every level of each primary) and that grid is converted the way a
 * photo would be; identity within one level (rounding) means it can be skipped. Once per distinct
 * profile per process (~5 ms); a small cache, so that unique profiles cost their check and no memory.
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { pngChunk } from '../../shared/strip-metadata.ts';

const CACHE_SIZE = 64;
/** sRGB profiles are 0.5–61 KB; a larger one (a CMYK press profile: ~1 MB) is not checked. */
const MAX_CHECKED_BYTES = 128 * 1024;
const verdicts = new Map<string, Promise<boolean>>();

/** sharp's `ignoreIcc` for an image: true when its profile (if any) would change no pixel. */
export async function ignorableIcc(meta: { icc?: Uint8Array | undefined }): Promise<boolean> {
  return meta.icc !== undefined && (await iccIsSrgbIdentity(meta.icc));
}

/** True when converting with `icc` to sRGB leaves every colour as it is (within one level). */
export function iccIsSrgbIdentity(icc: Uint8Array): Promise<boolean> {
  if (icc.byteLength > MAX_CHECKED_BYTES) return Promise.resolve(false);
  const key = createHash('sha1').update(icc).digest('hex');
  let verdict = verdicts.get(key);
  if (!verdict) {
    verdict = measure(icc).catch(() => false);
    if (verdicts.size >= CACHE_SIZE) verdicts.delete(verdicts.keys().next().value as string);
    verdicts.set(key, verdict);
  }
  return verdict;
}

const GRID = colourGrid();

async function measure(icc: Uint8Array): Promise<boolean> {
  const png = withIccp(await sharp(GRID.data, { raw: GRID.info }).png({ compressionLevel: 0 }).toBuffer(), icc);
  // A profile the decoder refuses is not attached, and the grid would come back unchanged: no verdict.
  if (!(await sharp(png).metadata()).icc) return false;
  const out = await sharp(png).removeAlpha().toColourspace('srgb').raw().toBuffer();
  if (out.length !== GRID.data.length) return false;
  for (let i = 0; i < out.length; i++) {
    if (Math.abs((out[i] as number) - (GRID.data[i] as number)) > 1) return false;
  }
  return true;
}

function colourGrid(): { data: Uint8Array; info: { width: number; height: number; channels: 3 } } {
  const colours: number[] = [];
  for (let r = 0; r < 16; r++) {
    for (let g = 0; g < 16; g++) {
      for (let b = 0; b < 16; b++) colours.push(r * 17, g * 17, b * 17);
    }
  }
  for (let v = 0; v < 256; v++) colours.push(v, v, v, v, 0, 0, 0, v, 0, 0, 0, v);
  const width = 64;
  const height = colours.length / 3 / width;
  return { data: Uint8Array.from(colours), info: { width, height, channels: 3 } };
}

/** The PNG with an iCCP chunk (the profile, deflated) right after its header chunk. */
function withIccp(png: Buffer, icc: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from('icc\0\0', 'latin1'), deflateSync(icc, { level: 1 })]);
  const afterHeader = 8 + 12 + png.readUInt32BE(8);
  return Buffer.concat([png.subarray(0, afterHeader), pngChunk('iCCP', body), png.subarray(afterHeader)]);
}
