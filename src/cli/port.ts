import { InvalidArgumentError } from 'commander';

/** A `--port` value, as a commander option parser: an integer from 0 to 65535 (0 picks a free port). */
export function portOption(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535.');
  return n;
}
