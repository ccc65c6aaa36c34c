/**
 * A value now, or later. The hot read paths (a cached GetOperation, a remembered credential, an
 * IAM decision from loaded policies) answer synchronously: every `await` of a settled value still
 * costs a microtask turn and garbage, which a ~20 µs request cannot afford.
 */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Calls `next` with the value at once when there is one, or when the promise settles. (Not named
 * `then`: a module exporting `then` makes its namespace object look like a promise to `await import()`.)
 */
export function andThen<T, R>(value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}
