/** shared/file-name.ts: how a client's file name is kept (table-driven). */
import { describe, expect, it } from 'vitest';
import { cleanFileName, FILE_NAME_MAX } from '../../shared/file-name.ts';

const CASES: [name: string, raw: string | undefined | null, kept: string | undefined][] = [
  ['plain', 'IMG_0001.jpg', 'IMG_0001.jpg'],
  ['absent', undefined, undefined],
  ['null', null, undefined],
  ['empty', '', undefined],
  ['blank', ' \t ', undefined],
  ['only controls', '\u0000\u0007\u001b', undefined],
  ['C0 controls and DEL removed', 'a\u0000b\tc\nd\re\u007ff.png', 'abcdef.png'],
  ['C1 controls removed', 'a\u0085b\u009bc.png', 'abc.png'],
  ['bidi override removed', 'photo\u202Egpj.exe', 'photogpj.exe'],
  ['bidi isolates and marks removed', '\u2066a\u2069\u200eb\u200f\u061c.png', 'ab.png'],
  ['NFC', 'cafe\u0301.png', 'caf\u00e9.png'],
  ['emoji and CJK kept', '東京 📷 写真.webp', '東京 📷 写真.webp'],
  ['blanks at the ends trimmed', '  a b.png  ', 'a b.png'],
  ['a path is kept as text', '../../etc/passwd', '../../etc/passwd'],
  ['a lone surrogate replaced', 'a\ud800b.png', 'a\ufffdb.png'],
  ['formula characters kept (the CSV writer neutralises them)', '=1+1.png', '=1+1.png'],
];

describe('cleanFileName', () => {
  it.each(CASES)('%s', (_name, raw, kept) => {
    expect(cleanFileName(raw)).toBe(kept);
  });

  it.each([
    ['ASCII', 'a'.repeat(1000), 'a'.repeat(FILE_NAME_MAX)],
    ['astral characters, a pair never split', '📷'.repeat(200), '📷'.repeat(Math.floor(FILE_NAME_MAX / 2))],
    ['a pair at the boundary', `${'a'.repeat(FILE_NAME_MAX - 1)}📷`, 'a'.repeat(FILE_NAME_MAX - 1)],
  ])('capped at %s', (_name, raw, kept) => {
    const out = cleanFileName(raw);
    expect(out).toBe(kept);
    expect(out?.length).toBeLessThanOrEqual(FILE_NAME_MAX);
    expect(out?.isWellFormed()).toBe(true);
  });
});
