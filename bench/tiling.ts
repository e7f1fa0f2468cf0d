/**
 * `npm run bench:tiling`: what tiling buys on large photos and what it costs, on the server's
 * path in this process (the worker's decode and the same detector, WebAssembly): 12 MP walls
 * with ~520 px prints of the fixtures at known spots (some on tile seams), each detected with
 * tiling `off` and `auto`. Prints recall (prints whose object is found inside the print) and ms
 * per photo (decode + all passes), at the default threshold and at 0.2.
 */
import os from 'node:os';
import { decodeForModel } from '../server/images/decode.ts';
import { initBackend } from '../server/model/backend.ts';
import { loadInstalledModel } from '../server/model/load.ts';
import { foundPrints, PRINTS, type PrintSpec, wall } from './lib/wall.ts';

const LAYOUTS: PrintSpec[][] = [
  PRINTS,
  // On the seams of the 3×2 grid (x ≈ 1210–1613, 2419–2822; y ≈ 1209–1815).
  [
    { file: 'astronaut.png', label: 'person', left: 1150, top: 300, width: 520 },
    { file: 'coffee.png', label: 'cup', left: 2300, top: 1300, width: 520 },
    { file: 'astronaut.png', label: 'person', left: 200, top: 1150, width: 520 },
    { file: 'coffee.png', label: 'cup', left: 3400, top: 200, width: 520 },
  ],
  // Smaller prints (~400 px).
  PRINTS.map((p, i) => ({ ...p, width: 400, left: p.left + 100 * i, top: p.top + 50 })),
];

const backend = await initBackend('wasm');
const detector = await loadInstalledModel(process.env.MODEL_ID ?? 'centernet');

const rows: string[] = [];
const total = { off: { found: 0, ms: 0 }, auto: { found: 0, ms: 0, tiles: 0 } };
let prints = 0;
for (const [i, layout] of LAYOUTS.entries()) {
  const { jpeg, prints: placed } = await wall(layout);
  prints += placed.length;
  for (const tiling of ['off', 'auto'] as const) {
    for (const minScore of [0.3, 0.2]) {
      const t0 = performance.now();
      const decoded = await decodeForModel(jpeg, detector.inputSize, 40_000_000, tiling);
      const r = await detector.detect(decoded.pixels, decoded.original, {
        min_score: minScore,
        max_detections: 20,
        tiling,
      });
      const ms = performance.now() - t0;
      const found = foundPrints(r, placed).length;
      if (minScore === 0.2) {
        total[tiling].found += found;
        total[tiling].ms += ms;
        if (tiling === 'auto') total.auto.tiles = r.tiles;
      }
      rows.push(
        `| ${i + 1} | ${tiling} | ${minScore} | ${found}/${placed.length} | ${r.tiles} | ${Math.round(ms)} | ${r.tileMs === null ? '–' : Math.round(r.tileMs)} |`,
      );
      console.error(rows.at(-1));
    }
  }
}

console.log(
  `bench:tiling: ${LAYOUTS.length} walls of 4032×3024 with ${prints} prints; ${backend}; ${os.cpus().length} cores (${os.cpus()[0]?.model})\n`,
);
console.log('| wall | tiling | min_score | prints found | tiles | ms per photo (decode + passes) | ms per tile |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
console.log(rows.join('\n'));
const pct = (n: number) => `${Math.round((100 * n) / prints)}%`;
console.log(
  `\nAt min_score 0.2: recall off ${pct(total.off.found)}, auto ${pct(total.auto.found)} (${total.auto.tiles} tiles); ms per photo off ${Math.round(total.off.ms / LAYOUTS.length)}, auto ${Math.round(total.auto.ms / LAYOUTS.length)}`,
);
