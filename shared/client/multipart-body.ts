/**
 * A multipart/form-data body (RFC 7578) built in one piece from text fields and one file's bytes.
 * What the typed client sends when it is given bytes rather than a Blob: in Node, fetch encodes a
 * FormData by streaming each Blob through web streams in small copies (measured with a 791 KB photo
 * against a local server that drains the body: 4.3 ms of CPU per upload that way, 3.0 ms with this,
 * both sides together). No Node APIs: it runs wherever the client does.
 */
const encoder = new TextEncoder();

/** How a browser's FormData writes a name or file name in a part's headers (WHATWG HTML). */
function quoted(name: string): string {
  return name.replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/"/g, '%22');
}

export function multipartBody(
  fields: [string, string][],
  file: { field: string; filename: string; bytes: Uint8Array },
): { body: Uint8Array<ArrayBuffer>; contentType: string } {
  // 24 random bytes as hex: the chance that a photo holds this line by accident is nil.
  const random = crypto.getRandomValues(new Uint8Array(24));
  const boundary = `twinlens-${Array.from(random, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  let head = '';
  for (const [name, value] of fields) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"\r\n\r\n${value}\r\n`;
  }
  head +=
    `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(file.field)}"; ` +
    `filename="${quoted(file.filename)}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const start = encoder.encode(head);
  const end = encoder.encode(`\r\n--${boundary}--\r\n`);
  const body = new Uint8Array(start.length + file.bytes.length + end.length);
  body.set(start, 0);
  body.set(file.bytes, start.length);
  body.set(end, start.length + file.bytes.length);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}
