import { errnoHint } from './errno-hint.js';
import { DS18X20_RANGE } from './kinds.js';

/**
 * Why a read gave no usable temperature. A discriminated union on `code` so that
 * the scheduler can count, log and retry without parsing message strings.
 */
export type ReadError =
  | { readonly code: 'crc_mismatch'; readonly crc: string; readonly raw: string }
  | { readonly code: 'power_on_reset'; readonly milli: number }
  | { readonly code: 'insufficient_power'; readonly milli: number }
  | { readonly code: 'all_zero' }
  /** `unit`, `min`, `max`: for measurements other than a DS18x20 temperature (kinds.ts). */
  | { readonly code: 'out_of_range'; readonly milli: number; readonly unit?: string; readonly min?: number; readonly max?: number }
  | { readonly code: 'empty_read' }
  | { readonly code: 'parse_error'; readonly raw: string }
  | { readonly code: 'not_present' }
  | { readonly code: 'io_error'; readonly errno: string; readonly message: string }
  | { readonly code: 'timeout'; readonly ms: number }
  /** Not read: an earlier read on the same bus timed out and is still blocked in the kernel. */
  | { readonly code: 'bus_stuck'; readonly ms: number }
  /** Not read: every thread the agent lets 1-Wire reads use is held by a read stuck in the kernel. */
  | { readonly code: 'no_thread'; readonly stuck: number };

export type ReadErrorCode = ReadError['code'];

/**
 * Outcome of one read: the value in thousandths of its unit (millidegrees C for a
 * temperature, m%RH, mV; presence 1000 = there, 0 = gone), or an error as data.
 */
export type ReadResult =
  | { readonly ok: true; readonly milli: number }
  | { readonly ok: false; readonly error: ReadError };

export type ConvertResult = { readonly ok: true } | { readonly ok: false; readonly error: ReadError; readonly permanent: boolean };

export function describeError(error: ReadError): string {
  switch (error.code) {
    case 'crc_mismatch':
      return `CRC mismatch (crc=${error.crc})`;
    case 'power_on_reset':
      return 'power-on value 85 °C (no conversion happened)';
    case 'insufficient_power':
      return '127.94 °C: not enough power for the conversion (parasite supply?)';
    case 'all_zero':
      return 'all-zero scratchpad (bus shorted or sensor not responding)';
    case 'out_of_range':
      if (error.unit !== undefined) return `${error.milli / 1000} ${error.unit} is outside the sensor's ${error.min}…${error.max} ${error.unit} range`;
      return `${error.milli / 1000} °C is outside the sensor's ${DS18X20_RANGE.min}…${DS18X20_RANGE.max} °C range`;
    case 'empty_read':
      return 'empty read (the kernel reports every failure this way since 5.8)';
    case 'parse_error':
      return `unreadable value ${JSON.stringify(error.raw.slice(0, 80))}`;
    case 'not_present':
      return 'device not present';
    case 'io_error': {
      const hint = errnoHint(error.errno);
      return `${error.errno}: ${error.message}${hint ? ` (${hint})` : ''}`;
    }
    case 'timeout':
      return `no answer within ${error.ms} ms`;
    case 'bus_stuck':
      return `not read: an earlier read on this bus has been blocked in the kernel for ${error.ms} ms`;
    case 'no_thread':
      return `not read: all ${error.stuck} threads for 1-Wire reads are held by reads stuck in the kernel (UV_THREADPOOL_SIZE raises the number)`;
  }
}
