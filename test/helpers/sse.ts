/** Reads a Server-Sent Events response the way a browser's EventSource would, without one. */

export type SseItem = { kind: 'event'; event: string; data: string } | { kind: 'comment'; text: string };

/** Yields each event (and each comment line) as it arrives; returns when the server ends the stream. */
export async function* readSse(res: Response): AsyncGenerator<SseItem> {
  if (!res.body) throw new Error('the response has no body');
  const decoder = new TextDecoder();
  let buf = '';
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let end = buf.indexOf('\n\n');
    while (end >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      yield* parseBlock(block);
      end = buf.indexOf('\n\n');
    }
  }
  if (buf.trim()) throw new Error(`the stream ended inside an event: ${JSON.stringify(buf)}`);
}

function* parseBlock(block: string): Generator<SseItem> {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      yield { kind: 'comment', text: line.slice(1).trim() };
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length > 0) yield { kind: 'event', event, data: data.join('\n') };
}
