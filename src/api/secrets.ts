import { readFileSync } from 'node:fs';
import { ApiError, Code } from '../common/errors.js';

/** A Secret Manager secret version name, as Developer Connect's `*_secret_version` fields take it. */
export const SECRET_VERSION = /^projects\/[^/]+\/(locations\/[^/]+\/)?secrets\/[^/]+\/versions\/[^/]+$/;

/**
 * The values of Secret Manager secret versions, for the connections that name them (a basic-auth
 * password, a bearer token). There is no Secret Manager here: `serve --secrets-file FILE` gives a
 * JSON object of version name → value, read at start. A version that is not in it is a clear
 * FAILED_PRECONDITION when the server needs its value, never an invented one.
 */
export class SecretVersions {
  private readonly values: ReadonlyMap<string, string>;

  constructor(
    values: Record<string, string> = {},
    /** Where the values came from, for messages. */
    private readonly source = '--secrets-file',
  ) {
    this.values = new Map(Object.entries(values));
  }

  static fromFile(path: string): SecretVersions {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new Error(`--secrets-file ${path} is not readable JSON: ${(error as Error).message}`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`--secrets-file ${path} must be a JSON object of secret version name → value.`);
    const values: Record<string, string> = {};
    for (const [name, value] of Object.entries(parsed)) {
      if (!SECRET_VERSION.test(name)) throw new Error(`--secrets-file ${path}: '${name}' is not a secret version name (projects/P/secrets/S/versions/V).`);
      if (typeof value !== 'string') throw new Error(`--secrets-file ${path}: the value of ${name} must be a string.`);
      values[name] = value;
    }
    return new SecretVersions(values, `--secrets-file ${path}`);
  }

  /** The value of a secret version that `field` of `resource` names. */
  value(version: string, field: string, resource: string): string {
    const value = this.values.get(version);
    if (value === undefined) {
      throw new ApiError(
        Code.FAILED_PRECONDITION,
        `${resource}: ${field} names secret version '${version}', whose value this server does not have; add it to the JSON object of ${this.source} (start the server with --secrets-file FILE).`,
        { reason: 'SECRET_VERSION_UNAVAILABLE', metadata: { secretVersion: version } },
      );
    }
    return value;
  }
}
