/**
 * Reads the MQTT fixed header of every packet going past on a byte stream, without
 * decoding packets: byte 1 is the type (high nibble), then the Remaining Length as
 * a variable byte integer of at most 4 bytes (MQTT 3.1.1 section 2.2.3). That is
 * enough to count packets and bytes for $SYS and to refuse an oversized or
 * malformed packet before its body is buffered (aedes' parser has no size limit).
 */

/** PUBLISH and CONNECT packet types (MQTT 3.1.1 section 2.2.1). */
export const PUBLISH = 3;
export const CONNECT = 1;

export type FrameViolation =
  | { readonly kind: 'oversized'; readonly size: number; readonly max: number }
  | { readonly kind: 'malformed'; readonly reason: string };

export interface FrameMeterOptions {
  /** Largest whole packet (fixed header included) let through; Infinity for none. */
  readonly maxPacketSize: number;
  /** Called once per packet, when its fixed header is complete. */
  readonly onPacket?: (type: number, size: number) => void;
}

const MAX_LENGTH_BYTES = 4;

export class FrameMeter {
  readonly #o: FrameMeterOptions;
  #state: 'type' | 'length' | 'body' = 'type';
  #type = 0;
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #left = 0;
  #violation: FrameViolation | undefined;

  constructor(options: FrameMeterOptions) {
    this.#o = options;
  }

  /** Feed the next bytes; returns why the connection must be dropped, if it must. Sticky once set. */
  push(chunk: Uint8Array): FrameViolation | undefined {
    let i = 0;
    while (i < chunk.length && this.#violation === undefined) {
      if (this.#state === 'body') {
        const take = Math.min(this.#left, chunk.length - i);
        this.#left -= take;
        i += take;
        if (this.#left === 0) this.#state = 'type';
        continue;
      }
      const byte = chunk[i++] ?? 0;
      if (this.#state === 'type') {
        this.#type = byte >> 4;
        // Type 0 is reserved in every MQTT version (3.1.1 table 2.1, 5.0 table 2-1).
        if (this.#type === 0) this.#violation = { kind: 'malformed', reason: 'reserved packet type 0' };
        this.#length = 0;
        this.#multiplier = 1;
        this.#lengthBytes = 0;
        this.#state = 'length';
        continue;
      }
      this.#length += (byte & 0x7f) * this.#multiplier;
      this.#multiplier *= 128;
      this.#lengthBytes++;
      if (byte & 0x80) {
        // MQTT-2.2.3: the Remaining Length is at most four bytes long.
        if (this.#lengthBytes === MAX_LENGTH_BYTES) this.#violation = { kind: 'malformed', reason: 'remaining length longer than 4 bytes' };
        continue;
      }
      this.#headerDone();
    }
    return this.#violation;
  }

  #headerDone(): void {
    const size = 1 + this.#lengthBytes + this.#length;
    if (size > this.#o.maxPacketSize) {
      this.#violation = { kind: 'oversized', size, max: this.#o.maxPacketSize };
      return;
    }
    this.#o.onPacket?.(this.#type, size);
    this.#left = this.#length;
    this.#state = this.#left === 0 ? 'type' : 'body';
  }
}
