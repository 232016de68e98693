import { it } from 'vitest';
import { FrameDecoder, MAX_FRAME } from '../../src/protocol/frame.js';
it('1-byte chunks of a big frame', () => {
  for (const size of [65536, 262144, MAX_FRAME]) {
    const d = new FrameDecoder();
    const h = Buffer.alloc(4); h.writeUInt32BE(size);
    const stream = Buffer.concat([h, Buffer.alloc(size, 7)]);
    const m0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    let got = 0; let peak = 0;
    for (let i = 0; i < stream.length; i++) {
      got += d.push(Buffer.from(stream.subarray(i, i + 1))).length;
      if (i === stream.length - 2) peak = process.memoryUsage().heapUsed - m0;
    }
    process.stderr.write(`${size} frames ${got} ms ${(performance.now() - t0).toFixed(0)} heap MB before last byte ${(peak / 1e6).toFixed(0)}\n`);
  }
}, 120000);
