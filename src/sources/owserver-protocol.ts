/**
 * The owserver network protocol (TCP 4304), pure encode/decode with no sockets.
 *
 * Every message starts with six big-endian int32 (owfs ow_message.h `struct
 * server_msg` / `struct client_msg`): version, payload, type (request) or ret
 * (response), control flags, size, offset. A request carries `path\0` (plus the
 * data for a WRITE) as its payload; a response carries `payload` bytes of body.
 * While a slow request is being served, owserver sends a header with payload −1
 * about once a second (owserver/src/c/loop.c `PingLoop`): a keep-alive ping with no
 * body, after which the real answer still follows.
 */

export const HEADER_BYTES = 24;
/** MAX_OWSERVER_PROTOCOL_PAYLOAD_SIZE in ow_message.h: nothing legitimate is larger. */
export const MAX_PAYLOAD = 100_050;
/** What owshell asks for in a READ; the server trims the answer to the real length. */
export const READ_SIZE = 65_536;

/** `enum msg_classification` (ow_message.h). Only the ones we send. */
export const MSG = { nop: 1, read: 2, write: 3, presence: 6, dirall: 7 } as const;
export type MessageType = (typeof MSG)[keyof typeof MSG];

/** Control flags (ow_parsedname.h). Temperature scale bits 16–17 = 0 (Celsius) and
 * device format bits 24–31 = 0 (`28.FF2D79A21603`) are left at zero on purpose: the
 * request then gets Celsius and the `f.i` names whatever the server's own -F / -f. */
export const FLAG = { busList: 0x02, persistent: 0x04, uncached: 0x20, trim: 0x40 } as const;

export interface Request {
  readonly type: MessageType;
  readonly path: string;
  readonly flags: number;
  /** Data for a WRITE (sent after `path\0`). */
  readonly data?: Buffer | undefined;
}

export interface Response {
  readonly version: number;
  readonly payload: number;
  /** ≥ 0: success (data length for READ); < 0: −errno, or −1 for a path/device not found. */
  readonly ret: number;
  readonly flags: number;
  readonly size: number;
  readonly offset: number;
  readonly body: Buffer;
}

/** The stream broke the protocol (a bad length): the connection cannot be trusted after it. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

export function encodeRequest(request: Request): Buffer {
  const path = Buffer.from(`${request.path}\0`, 'utf8');
  const data = request.data ?? Buffer.alloc(0);
  const out = Buffer.alloc(HEADER_BYTES + path.length + data.length);
  out.writeInt32BE(0, 0); // version
  out.writeInt32BE(path.length + data.length, 4);
  out.writeInt32BE(request.type, 8);
  out.writeInt32BE(request.flags, 12);
  // READ: the most we accept; WRITE: the data length (owshell ow_server.c does the same).
  out.writeInt32BE(request.type === MSG.write ? data.length : READ_SIZE, 16);
  out.writeInt32BE(0, 20); // offset
  path.copy(out, HEADER_BYTES);
  data.copy(out, HEADER_BYTES + path.length);
  return out;
}

/**
 * Turns a byte stream (arriving in chunks of any size, as TCP delivers them) into
 * responses. Pings are skipped and counted. A length outside 0…MAX_PAYLOAD throws
 * before anything is allocated for it.
 */
export class ResponseDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  pings = 0;

  /** Bytes received but not yet part of a complete message. */
  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The next complete response, or undefined until more bytes arrive. */
  next(): Response | undefined {
    for (;;) {
      if (this.#buffered < HEADER_BYTES) return undefined;
      const header = this.#peek(HEADER_BYTES);
      const payload = header.readInt32BE(4);
      if (payload === -1) {
        this.#take(HEADER_BYTES);
        this.pings++;
        continue;
      }
      if (payload < 0 || payload > MAX_PAYLOAD) {
        throw new ProtocolError(`owserver sent a payload length of ${payload} bytes (the protocol allows 0…${MAX_PAYLOAD})`);
      }
      if (this.#buffered < HEADER_BYTES + payload) return undefined;
      this.#take(HEADER_BYTES);
      return {
        version: header.readInt32BE(0),
        payload,
        ret: header.readInt32BE(8),
        flags: header.readInt32BE(12),
        size: header.readInt32BE(16),
        offset: header.readInt32BE(20),
        body: this.#take(payload),
      };
    }
  }

  /** The first `n` buffered bytes, merged into one buffer (n ≤ buffered). */
  #peek(n: number): Buffer {
    const first = this.#chunks[0];
    if (first && first.length >= n) return first.subarray(0, n);
    const merged = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [merged];
    return merged.subarray(0, n);
  }

  #take(n: number): Buffer {
    const out = n === 0 ? Buffer.alloc(0) : Buffer.from(this.#peek(n)); // copy: the body outlives the chunk list
    const first = this.#chunks[0];
    if (first) {
      const rest = first.subarray(n);
      this.#chunks = rest.length > 0 ? [rest, ...this.#chunks.slice(1)] : this.#chunks.slice(1);
    }
    this.#buffered -= n;
    return out;
  }
}

/** A DIRALL body: `"/28.FF2D79A21603,/10.C3A1B4020800,…\0"` → the entries. */
export function parseDirall(body: Buffer): string[] {
  const text = body.toString('latin1').replace(/\0+$/, '');
  return text.length === 0 ? [] : text.split(',');
}
