// Generates src/gen from the official protos with buf + protoc-gen-es, both shipped as npm packages.
// Skips the work when the output is newer than the installed google-proto-files.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'src/gen/google/longrunning/operations_pb.ts');
const protos = join(root, 'node_modules/google-proto-files/package.json');
if (existsSync(marker) && statSync(marker).mtimeMs > statSync(protos).mtimeMs) process.exit(0);

const bin = join(root, 'node_modules/.bin');
execFileSync(join(bin, 'buf'), ['generate'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
});
