/**
 * multipart/form-data (RFC 7578) over a body already in memory: the parts are views into it, no
 * copies. The upload route's own parser: the general one (undici's `Request.formData()`) copies
 * each part through web streams, Blobs and Files, a few milliseconds per photo.
 */
import type { Context } from 'hono';
import { TwinlensError } from '../../shared/errors.ts';
import { readBody } from './body.ts';

export interface Part {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
  data: Buffer;
}

const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');

/** The boundary from a Content-Type header, or null when it is not multipart/form-data with one. */
export function boundaryOf(contentType: string): string | null {
  if (!/^multipart\/form-data\s*(;|$)/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m?.[1] ?? m?.[2] ?? null;
}

export function parseMultipart(body: Buffer, boundary: string, maxParts = 16): Part[] {
  const bad = (why: string) => new TwinlensError('invalid_request', `the multipart body cannot be parsed: ${why}`);
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  if (at < 0) throw bad('no boundary');
  const parts: Part[] = [];
  for (;;) {
    at += delimiter.length;
    // `--` after a delimiter closes the body.
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return parts;
    if (!body.subarray(at, at + 2).equals(CRLF)) throw bad('a boundary is not followed by a line break');
    const headersEnd = body.indexOf(HEADERS_END, at);
    if (headersEnd < 0) throw bad('a part has no end to its headers');
    const headers = body.toString('latin1', at + 2, headersEnd);
    const next = body.indexOf(Buffer.concat([CRLF, delimiter]), headersEnd + 4);
    if (next < 0) throw bad('the body ends inside a part');
    if (parts.length >= maxParts) throw bad(`more than ${maxParts} parts`);
    parts.push({ ...partHeaders(headers), data: body.subarray(headersEnd + 4, next) });
    at = next + 2;
  }
}

function partHeaders(text: string): Omit<Part, 'data'> {
  let name: string | undefined;
  let filename: string | undefined;
  let contentType: string | undefined;
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'content-disposition') {
      name = utf8(param(value, 'name'));
      filename = unescapeName(utf8(param(value, 'filename')));
    } else if (key === 'content-type') {
      contentType = value;
    }
  }
  if (name === undefined) throw new TwinlensError('invalid_request', 'a multipart part has no name');
  return { name, filename, contentType };
}

/**
 * Browsers (and curl) write names in a part's headers as raw UTF-8 bytes (WHATWG HTML; RFC 7578
 * §4.2 leaves `filename*` aside); the headers were read as latin1, one character per byte.
 */
function utf8(latin1: string | undefined): string | undefined {
  return latin1 === undefined ? undefined : Buffer.from(latin1, 'latin1').toString('utf8');
}

/**
 * A browser's FormData (and the typed client, shared/client/multipart-body.ts) writes `"`, CR and LF
 * in a file name as `%22`, `%0D` and `%0A` (WHATWG HTML): turned back, so that `say "hi".jpg` is
 * kept as named (CR and LF are then removed with the other control characters, shared/file-name.ts).
 */
function unescapeName(name: string | undefined): string | undefined {
  return name?.replace(/%(22|0D|0A)/gi, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

function param(value: string, key: string): string | undefined {
  const m = new RegExp(`(?:^|;)\\s*${key}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i').exec(value);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

/**
 * A request's multipart/form-data body, read and parsed: the routes that take photos (POST /tasks,
 * album jobs) start here. An absent body or another type is refused with its own code.
 */
export async function readForm(c: Context, maxParts?: number): Promise<Part[]> {
  const contentType = c.req.header('content-type') ?? '';
  if (c.req.header('content-length') === '0' || (!contentType && !c.req.header('transfer-encoding'))) {
    throw new TwinlensError('empty_body', 'the request has no body; send the image as multipart/form-data');
  }
  const boundary = boundaryOf(contentType);
  if (!boundary) {
    throw new TwinlensError('invalid_request', 'send multipart/form-data with the image in the field "image"');
  }
  return parseMultipart(await readBody(c), boundary, maxParts);
}

/**
 * The text fields of a form (parts without a file name). A field sent twice is refused (400
 * `duplicate_field`, naming it) rather than one of its values picked: a client that sends
 * `min_score` twice meant something, and it is not for the server to guess which.
 */
export function formFields(parts: Part[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (const p of parts) {
    if (p.filename !== undefined) continue;
    if (fields.has(p.name)) throw duplicateField(p.name);
    fields.set(p.name, p.data.toString('utf8'));
  }
  return fields;
}

export function duplicateField(name: string, where = 'form field'): TwinlensError {
  const shown = name.length > 64 ? `${name.slice(0, 64)}…` : name;
  return new TwinlensError('duplicate_field', `the ${where} "${shown}" is sent more than once; send it once`);
}
