// Draws images/icon.png (128×128 RGBA): a blue tile with a white gate, for the Azure DevOps task
// and extension. `node scripts/icon.mjs`; the PNG is committed, so nothing runs at build time.
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const SIZE = 128;
const SAMPLES = 4; // per axis: 16 samples per pixel smooth the edges

const inRoundedSquare = (x, y, r) => {
  const cx = Math.min(Math.max(x, r), SIZE - r);
  const cy = Math.min(Math.max(y, r), SIZE - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
};
// A gate: two posts, two rails and a diagonal brace, in white.
const inGate = (x, y) => {
  const post = (x0) => x >= x0 && x <= x0 + 12 && y >= 28 && y <= 104;
  const rail = (y0) => x >= 30 && x <= 98 && y >= y0 && y <= y0 + 10;
  const d = Math.abs(y - 90 + (x - 40) * (52 / 48)) / Math.hypot(1, 52 / 48);
  const brace = x >= 38 && x <= 90 && y >= 38 && y <= 92 && d <= 5;
  return post(26) || post(90) || rail(40) || rail(80) || brace;
};

const rows = [];
for (let py = 0; py < SIZE; py++) {
  const row = Buffer.alloc(1 + SIZE * 4); // filter byte 0: none
  for (let px = 0; px < SIZE; px++) {
    let tile = 0;
    let white = 0;
    for (let sy = 0; sy < SAMPLES; sy++) {
      for (let sx = 0; sx < SAMPLES; sx++) {
        const x = px + (sx + 0.5) / SAMPLES;
        const y = py + (sy + 0.5) / SAMPLES;
        if (!inRoundedSquare(x, y, 22)) continue;
        tile++;
        if (inGate(x, y)) white++;
      }
    }
    const n = SAMPLES * SAMPLES;
    const w = tile ? white / tile : 0;
    const mix = (blue, full) => Math.round(blue + (full - blue) * w);
    row.set(
      [mix(0x0b, 255), mix(0x5c, 255), mix(0xad, 255), Math.round((255 * tile) / n)],
      1 + px * 4,
    );
  }
  rows.push(row);
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
};
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(SIZE, 0);
ihdr.writeUInt32BE(SIZE, 4);
ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, deflate, no filter method, no interlace

writeFileSync(
  'images/icon.png',
  Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows), { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]),
);
console.log('wrote images/icon.png');
