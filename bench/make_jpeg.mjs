// Writes a photo-like JPEG of about TARGET bytes (smooth colours with fine grain, which compress
// as camera pictures do) to PATH, for the upload and download benchmarks.
//
//   node bench/make_jpeg.mjs PATH [TARGET=204800]
import { writeFileSync } from 'node:fs';
import jpeg from 'jpeg-js';

const [file, targetArg] = process.argv.slice(2);
const target = Number(targetArg ?? 204800);

function picture(w, h) {
  const data = Buffer.alloc(w * h * 4);
  let seed = 12345;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed % 64) - 32;
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      const clamp = (v) => Math.max(0, Math.min(255, v));
      data[i] = clamp(128 + 100 * Math.sin(x / 37) + noise());
      data[i + 1] = clamp(128 + 100 * Math.cos(y / 23) + noise());
      data[i + 2] = clamp(128 + 80 * Math.sin((x + y) / 51) + noise());
      data[i + 3] = 255;
    }
  }
  return { data, width: w, height: h };
}

// The size grows with the area: search the width (4:3) whose JPEG is closest to the target.
let lo = 64;
let hi = 4096;
let best = null;
while (lo <= hi) {
  const w = Math.floor((lo + hi) / 2);
  const out = jpeg.encode(picture(w, Math.round((w * 3) / 4)), 85).data;
  if (!best || Math.abs(out.length - target) < Math.abs(best.length - target)) best = out;
  if (out.length < target) lo = w + 1;
  else hi = w - 1;
}
writeFileSync(file, best);
console.log(best.length);
