import { InvalidArgumentError } from 'commander';
import ms, { type StringValue } from 'ms';

/** Parses a duration such as `0s`, `500ms`, `30s` or `2m` into milliseconds (a bare number is milliseconds). */
export function parseDuration(text: string): number {
  const value = ms(text.trim() as StringValue);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`'${text}' is not a duration: use forms like 0s, 500ms, 30s or 2m.`);
  }
  return Math.round(value);
}

/** parseDuration as a commander option parser: a bad value is reported as the option's error. */
export function durationOption(text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}
