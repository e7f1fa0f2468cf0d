/** The typed client's own multipart body: read the same by the API's parser and by the web platform's. */
import { describe, expect, it } from 'vitest';
import { boundaryOf, formFields, parseMultipart } from '../../server/http/multipart.ts';
import { multipartBody } from '../../shared/client/multipart-body.ts';
import { fixture } from '../helpers/api.ts';

const photo = new Uint8Array(fixture('coffee.png'));
const fields: [string, string][] = [
  ['task_id', '6f1c2a9e-3b1d-4c55-9e2a-0c1d2e3f4a5b'],
  ['min_score', '0.4'],
  ['route', JSON.stringify({ chosen: 'server', reason: 'a "quoted" reason\r\nover two lines' })],
];
const filename = 'holiday "best"\r\n.png';

describe('multipartBody', () => {
  it('is read by the API’s multipart parser: the fields, and the photo byte for byte', () => {
    const { body, contentType } = multipartBody(fields, { field: 'image', filename, bytes: photo });
    const boundary = boundaryOf(contentType);
    expect(boundary).toMatch(/^twinlens-[0-9a-f]{48}$/);
    const parts = parseMultipart(Buffer.from(body), boundary as string);
    expect([...formFields(parts)]).toEqual(fields);
    const image = parts.find((p) => p.name === 'image');
    // Sent with the WHATWG escapes (%22, %0D, %0A), read back as named (the task keeps it cleaned).
    expect(Buffer.from(body).includes('filename="holiday %22best%22%0D%0A.png"')).toBe(true);
    expect(image?.filename).toBe(filename);
    expect(image?.contentType).toBe('application/octet-stream');
    expect(Buffer.compare(image?.data as Buffer, Buffer.from(photo))).toBe(0);
  });

  it('is read the same by the web platform’s FormData parser', async () => {
    const { body, contentType } = multipartBody(fields, { field: 'image', filename, bytes: photo });
    const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
    for (const [name, value] of fields) expect(form.get(name)).toBe(value);
    const file = form.get('image') as File;
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(photo);
  });

  it('uses a new boundary each time', () => {
    const a = multipartBody([], { field: 'image', filename: 'a', bytes: photo }).contentType;
    const b = multipartBody([], { field: 'image', filename: 'a', bytes: photo }).contentType;
    expect(a).not.toBe(b);
  });
});
