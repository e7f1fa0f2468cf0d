/**
 * The worker skips a photo's colour conversion only when it changes nothing: an sRGB profile
 * decodes to the same pixels with or without it, any other profile is still applied
 * (server/images/colour-profile.ts, used by decode.ts).
 */
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { iccIsSrgbIdentity } from '../../server/images/colour-profile.ts';
import { decodeForModel } from '../../server/images/decode.ts';
import { fixture } from '../helpers/api.ts';

/** What sharp gives with its colour management on (the reference) and off. */
async function pixels(bytes: Uint8Array, ignoreIcc: boolean): Promise<Buffer> {
  return sharp(bytes, { ignoreIcc }).removeAlpha().toColourspace('srgb').raw().toBuffer();
}

async function iccOf(bytes: Uint8Array): Promise<Buffer> {
  const { icc } = await sharp(bytes).metadata();
  if (!icc) throw new Error('the image carries no profile');
  return icc;
}

// astronaut.png carries the 3 KB "sRGB IEC61966-2.1" profile that most cameras and editors embed.
const srgbPhoto = fixture('astronaut.png');

describe('colour profiles', () => {
  const tagged = (name: 'srgb' | 'p3') => async () =>
    iccOf(await sharp(srgbPhoto).withIccProfile(name).png().toBuffer());
  it.each([
    { profile: 'the classic sRGB IEC61966-2.1 profile', icc: async () => iccOf(srgbPhoto), identity: true },
    { profile: 'libvips’ compact sRGB profile', icc: tagged('srgb'), identity: true },
    { profile: 'Display P3', icc: tagged('p3'), identity: false },
    {
      profile: 'a CMYK press profile (too large to check)',
      icc: async () => iccOf(await sharp(srgbPhoto).withIccProfile('cmyk').jpeg().toBuffer()),
      identity: false,
    },
    { profile: 'bytes that are no profile', icc: async () => randomBytes(2000), identity: false },
  ])('$profile: converting with it changes nothing → $identity', async ({ icc, identity }) => {
    expect(await iccIsSrgbIdentity(await icc())).toBe(identity);
  });

  it('an sRGB-tagged photo decodes to the same pixels as with the conversion', async () => {
    const decoded = await decodeForModel(srgbPhoto, 512, 40_000_000);
    expect(Buffer.from(decoded.pixels.data).equals(await pixels(srgbPhoto, false))).toBe(true);
  });

  it('a Display P3 photo is still converted to sRGB for the model', async () => {
    const p3 = await sharp(srgbPhoto).withIccProfile('p3').png().toBuffer();
    const decoded = Buffer.from((await decodeForModel(p3, 512, 40_000_000)).pixels.data);
    expect(decoded.equals(await pixels(p3, false))).toBe(true);
    expect(decoded.equals(await pixels(p3, true))).toBe(false);
  });
});
