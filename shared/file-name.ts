/**
 * A client's file name, kept with its task as metadata (the multipart `filename`, the CLI's path
 * relative to where it ran): shown and exported, never used as a path on the server. Cleaned the
 * same way wherever a name is taken or written, so that the server's exports and the CLI's own
 * agree: Unicode NFC; control characters (C0, DEL, C1) and the invisible bidirectional controls
 * that can make `gpj.exe` look like `exe.jpg` removed; blanks at either end trimmed; at most
 * FILE_NAME_MAX UTF-16 units (a JavaScript string's length,
 * what the contract checks), a surrogate pair never split. No Node APIs: the web app uses it too.
 */
export const FILE_NAME_MAX = 255;

// C0 and C1 controls, DEL; LRM/RLM, ALM, the embeddings/overrides and the isolates.
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
const UNWANTED = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]/g;
// A lone surrogate (a broken UTF-16 pair): not text; replaced so that the name is valid UTF-8.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The cleaned name, or undefined when nothing is left of it. */
export function cleanFileName(raw: string | undefined | null): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  const text = raw.replace(LONE_SURROGATE, '\ufffd').normalize('NFC').replace(UNWANTED, '').trim();
  let capped = text;
  if (text.length > FILE_NAME_MAX) {
    capped = '';
    for (const point of text) {
      if (capped.length + point.length > FILE_NAME_MAX) break;
      capped += point;
    }
    capped = capped.trim();
  }
  return capped === '' ? undefined : capped;
}
