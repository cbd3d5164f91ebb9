/**
 * Dallas/Maxim 1-Wire CRC8 (polynomial x^8+x^5+x^4+1, reflected 0x8C, init 0).
 * Used both for the ROM id (byte 7 = CRC of bytes 0..6) and the scratchpad
 * (byte 8 = CRC of bytes 0..7). Maxim application note 27; kernel `w1_calc_crc8`.
 */
const TABLE = buildTable();

function buildTable(): Uint8Array {
  const table = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x8c : crc >>> 1;
    table[i] = crc;
  }
  return table;
}

export function crc8(bytes: ArrayLike<number>): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ (bytes[i] ?? 0)) & 0xff] ?? 0;
  return crc;
}
