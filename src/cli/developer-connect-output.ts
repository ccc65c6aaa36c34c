import { Option } from 'commander';
import { stringify } from 'yaml';

/** gcloud's `--format` names, the ones this CLI prints. */
export const FORMATS = ['table', 'json', 'yaml'] as const;
export type Format = (typeof FORMATS)[number];

/** A table column: its heading (gcloud's upper-case style) and the cell of one item. */
export type Column<T> = readonly [heading: string, cell: (item: T) => unknown];

/**
 * What a command prints: a `list` of items (a list method, or a method answering with a list of
 * things), or one `message` (a resource, an operation, a method's single answer).
 */
export type Answer = 'list' | 'message';

/** gcloud's defaults: its list commands print a table, and its describe and other commands answering one message YAML. */
const DEFAULT_FORMAT: Record<Answer, Format> = { list: 'table', message: 'yaml' };

export function formatOption(answer: Answer): Option {
  return new Option('--format <format>', 'how to print the result').choices(FORMATS).default(DEFAULT_FORMAT[answer]);
}

/** A dotted path into a JSON object (`metadata.target`), or undefined where it leads nowhere. */
export function field(path: string): (item: unknown) => unknown {
  return (item) => path.split('.').reduce<unknown>((value, key) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined), item);
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map(cell).join(',');
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** gcloud's table: a heading row, columns left-aligned and two spaces apart, no trailing blanks. */
function table<T>(items: readonly T[], columns: readonly Column<T>[]): string {
  const rows = [columns.map(([heading]) => heading), ...items.map((item) => columns.map(([, value]) => cell(value(item))))];
  const widths = columns.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0)));
  return rows.map((row) => row.map((text, i) => text.padEnd(widths[i] ?? 0)).join('  ').trimEnd() + '\n').join('');
}

/**
 * Prints what a list-like call returned, as gcloud's list commands do: JSON as one array, YAML as
 * one document per item, a table with a heading; an empty result says `Listed 0 items.` on stderr.
 */
export function printList<T>(items: readonly T[], format: Format, columns: readonly Column<T>[]): void {
  if (format === 'json') return void process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
  if (items.length === 0) return void process.stderr.write('Listed 0 items.\n');
  if (format === 'yaml') return void process.stdout.write(items.map((item) => stringify(item)).join('---\n'));
  process.stdout.write(table(items, columns));
}

/** Prints one resource or response; a table without columns prints nothing (a response with nothing to show). */
export function printOne<T>(item: T, format: Format, columns: readonly Column<T>[]): void {
  if (format === 'json') return void process.stdout.write(`${JSON.stringify(item, null, 2)}\n`);
  if (format === 'yaml') return void process.stdout.write(stringify(item));
  if (columns.length > 0) process.stdout.write(table([item], columns));
}
