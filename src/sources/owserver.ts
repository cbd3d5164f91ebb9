import { getSystemErrorName } from 'node:util';
import { deviceKind } from '../readings/kinds.js';
import { measurementToRead } from '../readings/device.js';
import { presence } from './measured-values.js';
import { chipName } from '../readings/families.js';
import { isOwfsDeviceName, parseDeviceId } from '../onewire/ids.js';
import { OwserverClient, OwserverError } from './owserver-client.js';
import { FLAG, MSG, parseDirall, type Response } from './owserver-protocol.js';
import { readingFromOwfsText, valueFromOwfsText } from './owfs-value.js';
import type { ConvertResult, ReadError, ReadResult } from '../readings/read-result.js';
import type { Device } from '../readings/device.js';
import type { Source } from './source.js';
import { errText } from '../system/err-text.js';

export interface OwserverOptions {
  readonly host: string;
  readonly port: number;
  /** Per request: connect plus the complete answer. */
  readonly timeoutMs: number;
  /** Read `/uncached/<dev>/temperature`: a cached value can be 15 s old (owserver timeout_volatile). */
  readonly uncached: boolean;
}

/** Answers to a `/simultaneous/temperature` write that will not change by retrying. */
const REFUSALS = new Set(['EACCES', 'EROFS', 'EPERM', 'ENOENT', 'EOPNOTSUPP', 'ENOTSUP', 'EINVAL']);

/**
 * owserver over its TCP protocol (the owfs daemon that owns the bus master, local or
 * on another machine). One bus per server: owserver serialises bus access itself,
 * and one connection carries one request at a time anyway.
 */
export class OwserverSource implements Source {
  readonly name: string;
  readonly #client: OwserverClient;
  readonly #opts: OwserverOptions;

  constructor(options: OwserverOptions) {
    this.#opts = options;
    this.#client = new OwserverClient({ host: options.host, port: options.port, timeoutMs: options.timeoutMs });
    this.name = `owserver:${this.#client.address}`;
  }

  /** Devices of known kinds from DIRALL `/` (without the bus-list flag it names only devices). */
  async list(): Promise<Device[]> {
    const response = await this.#client.request({ type: MSG.dirall, path: '/', flags: 0 });
    if (response.ret < 0) throw new Error(`owserver ${this.#client.address} refused to list /: ${errnoName(response.ret)}`);
    const devices: Device[] = [];
    for (const entry of parseDirall(response.body).sort()) {
      const name = entry.replace(/^\//, '');
      if (!isOwfsDeviceName(name)) continue;
      const id = parseDeviceId(name);
      if (!id || !deviceKind(id.family)) continue;
      devices.push({ id, name, bus: this.name, chip: chipName(id.family) });
    }
    return devices;
  }

  async read(device: Device): Promise<ReadResult> {
    const measurement = measurementToRead(device);
    if (measurement?.owfs.kind === 'presence') return this.#presence(device);
    const property = measurement?.owfs.property ?? 'temperature';
    const parse = measurement ? (text: string) => valueFromOwfsText(text, measurement) : readingFromOwfsText;
    const path = `${this.#opts.uncached ? '/uncached' : ''}/${device.name}/${property}`;
    try {
      const response = await this.#client.request({ type: MSG.read, path, flags: FLAG.trim });
      if (response.ret >= 0) return parse(response.body.subarray(0, response.ret).toString('latin1'));
      return { ok: false, error: await this.#readError(device, path, response) };
    } catch (err) {
      return { ok: false, error: this.#transportError(err) };
    }
  }

  /**
   * ret −1 is owserver's "no such device or property" (owserver data.c); other codes
   * are −errno. For those, an uncached PRESENCE tells a device that left the bus from
   * a bus fault.
   */
  async #readError(device: Device, path: string, response: Response): Promise<ReadError> {
    if (response.ret === -1 || errnoName(response.ret) === 'ENOENT') return { code: 'not_present' };
    const presence = await this.#client.request({ type: MSG.presence, path: `/${device.name}`, flags: FLAG.uncached });
    if (presence.ret < 0) return { code: 'not_present' };
    const errno = errnoName(response.ret);
    return { code: 'io_error', errno, message: `owserver ${this.#client.address} answered ${errno} for ${path}` };
  }

  /** PRESENCE, uncached: ret 0 (with the ROM) when the device answers a search, −1 when not (platform-facts §2.9). */
  async #presence(device: Device): Promise<ReadResult> {
    try {
      const response = await this.#client.request({ type: MSG.presence, path: `/${device.name}`, flags: FLAG.uncached });
      return presence(response.ret >= 0);
    } catch (err) {
      return { ok: false, error: this.#transportError(err) };
    }
  }

  #transportError(err: unknown): ReadError {
    if (err instanceof OwserverError && err.code === 'ETIMEDOUT') return { code: 'timeout', ms: this.#opts.timeoutMs };
    if (err instanceof OwserverError) return { code: 'io_error', errno: err.code, message: err.message };
    return { code: 'io_error', errno: 'EUNKNOWN', message: errText(err) };
  }

  /** Write `1` to /simultaneous/temperature: SKIP ROM + CONVERT T for the whole bus (ow_simultaneous.c). */
  async convertAll(bus: string): Promise<ConvertResult> {
    if (bus !== this.name) return { ok: false, permanent: true, error: { code: 'io_error', errno: 'EINVAL', message: `${bus} is not ${this.name}` } };
    const path = '/simultaneous/temperature';
    try {
      const response = await this.#client.request({ type: MSG.write, path, flags: 0, data: Buffer.from('1') });
      if (response.ret >= 0) return { ok: true };
      const errno = errnoName(response.ret);
      return { ok: false, permanent: REFUSALS.has(errno), error: { code: 'io_error', errno, message: `owserver ${this.#client.address} answered ${errno} to a write of ${path}` } };
    } catch (err) {
      return { ok: false, permanent: false, error: this.#transportError(err) };
    }
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}

/** `-13` → `EACCES`; owserver's `-1` reads as EPERM, which is what it means for a write. */
function errnoName(ret: number): string {
  try {
    return getSystemErrorName(ret);
  } catch {
    return `error ${ret}`;
  }
}

/**
 * What answers the owserver protocol on host:port, for auto-detection: nothing, an
 * owserver whose every bus is simulated (Debian's stock /etc/owfs.conf serves
 * `server: FAKE = DS18S20,DS2405`: random values nobody wants published), or one with
 * a real bus master. Short timeouts, so a machine without owserver starts at once.
 */
export async function probeOwserver(host: string, port: number, timeoutMs = 300): Promise<'absent' | 'simulated' | 'hardware'> {
  const client = new OwserverClient({ host, port, timeoutMs });
  try {
    if ((await client.request({ type: MSG.nop, path: '', flags: 0 })).ret < 0) return 'absent';
    const root = await client.request({ type: MSG.dirall, path: '/', flags: FLAG.busList });
    const buses = parseDirall(root.body).filter((e) => /^\/bus\.\d+$/.test(e));
    const names: string[] = [];
    for (const bus of buses) {
      // "Simulated-Random" for --fake, "Simulated-Computed" for --tester (owfs 3.2p4).
      const r = await client.request({ type: MSG.read, path: `${bus}/interface/settings/name`, flags: FLAG.trim });
      names.push(r.ret >= 0 ? r.body.subarray(0, r.ret).toString('latin1') : '');
    }
    return names.length > 0 && names.every((n) => n.startsWith('Simulated')) ? 'simulated' : 'hardware';
  } catch {
    return 'absent';
  } finally {
    await client.close();
  }
}
