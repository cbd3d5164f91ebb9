import { Duplex } from 'node:stream';
import { FrameMeter, type FrameViolation } from './frame-meter.js';

/**
 * What aedes reads and writes instead of the raw socket (TCP, TLS or WebSocket):
 * inbound bytes go through a FrameMeter that drops the connection at the first
 * oversized or malformed packet header, and both directions are counted for
 * $SYS. Backpressure passes through: a write waits for the socket's 'drain', so
 * aedes' drainTimeout sees a subscriber that stops reading.
 */

export interface GuardedStreamHooks {
  readonly maxPacketSize: number;
  /** Per packet received (type, whole size). */
  readonly onReceived: (type: number, size: number) => void;
  /** Per packet sent. */
  readonly onSent: (type: number, size: number) => void;
  /** The connection is being dropped for this; called once. */
  readonly onViolation: (violation: FrameViolation) => void;
}

export class GuardedStream extends Duplex {
  readonly #inner: Duplex;
  readonly #in: FrameMeter;
  readonly #out: FrameMeter;
  readonly #hooks: GuardedStreamHooks;
  /** For logs: where the connection comes from. */
  readonly remoteAddress: string | undefined;

  constructor(inner: Duplex, hooks: GuardedStreamHooks, remoteAddress?: string) {
    super({ allowHalfOpen: false });
    this.#inner = inner;
    this.#hooks = hooks;
    this.remoteAddress = remoteAddress;
    this.#in = new FrameMeter({ maxPacketSize: hooks.maxPacketSize, onPacket: hooks.onReceived });
    this.#out = new FrameMeter({ maxPacketSize: Number.POSITIVE_INFINITY, onPacket: hooks.onSent });
    inner.on('data', (chunk: Buffer) => this.#onData(chunk));
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => this.destroy());
  }

  #onData(chunk: Buffer): void {
    if (this.destroyed) return;
    const violation = this.#in.push(chunk);
    if (violation) {
      // The offending bytes never reach aedes' parser, so nothing of the packet is buffered.
      this.#hooks.onViolation(violation);
      this.destroy();
      return;
    }
    if (!this.push(chunk)) this.#inner.pause();
  }

  override _read(): void {
    this.#inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#send(chunk, callback);
  }

  /** mqtt-packet corks the stream and writes a packet in pieces: hand the socket one buffer. */
  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.#send(Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  #send(buffer: Buffer, callback: (error?: Error | null) => void): void {
    if (this.#inner.destroyed) return callback(new Error('connection closed'));
    this.#out.push(buffer);
    if (this.#inner.write(buffer)) return callback();
    const done = (): void => {
      this.#inner.off('drain', done);
      this.#inner.off('close', done);
      callback();
    };
    this.#inner.on('drain', done);
    this.#inner.on('close', done);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#inner.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#inner.destroy();
    callback(error);
  }
}
