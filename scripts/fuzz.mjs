// Longer fuzzing than `npm test` runs: `npm run fuzz -- --seed N --duration 60s [name ...]`.
// Runs every test/fuzz/*.test.ts (or those whose name contains one of the names) for about the
// duration in all, each file for its share, from the seed (random unless given; it is printed,
// so a failure can be run again with it). fast-check prints the counterexample and its path.
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readdirSync } from 'node:fs';
import ms from 'ms';

const args = process.argv.slice(2);
let seed = randomInt(2 ** 31);
let durationMs = 60_000;
const names = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--seed') seed = Number(args[++i]);
  else if (arg === '--duration') durationMs = ms(String(args[++i]));
  else names.push(arg);
}
if (!Number.isSafeInteger(seed)) throw new Error('--seed takes an integer');
if (typeof durationMs !== 'number' || !(durationMs > 0)) throw new Error('--duration takes a duration such as 60s or 10m');

const files = readdirSync('test/fuzz')
  .filter((f) => f.endsWith('.test.ts') && (names.length === 0 || names.some((n) => f.includes(n))))
  .map((f) => `test/fuzz/${f}`)
  .sort();
if (files.length === 0) throw new Error(`no fuzz file matches ${names.join(', ')}`);
console.log(`fuzzing ${files.join(', ')} for ${ms(durationMs)} from seed ${seed}`);
const env = { ...process.env, FUZZ_SEED: String(seed), FUZZ_FILE_MS: String(Math.floor(durationMs / files.length)) };
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit', env });
console.log(`seed ${seed}: run again with npm run fuzz -- --seed ${seed} --duration ${ms(durationMs)}`);
process.exit(result.status ?? 1);
