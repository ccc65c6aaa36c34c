import { z } from 'zod';

/**
 * The JSON types of every JWT header parameter and claim the server reads. A token is checked
 * against these before any of its values is used (as a store key, in a comparison, in a
 * message): a header `{"kid": {}}` or an `aud` of numbers is a malformed token, answered 401 (or
 * `invalid_grant` at /token), never a value that reaches SQL or string methods. Other parameters
 * and claims are kept as they are and never read.
 */
const stringOrStrings = z.union([z.string(), z.array(z.string())]);
/** NumericDate (RFC 7519 §2): JSON numbers; zod refuses the infinity that `1e400` parses to. */
const numericDate = z.number();

export const JwtHeader = z.looseObject({
  alg: z.string(),
  kid: z.string().optional(),
  typ: z.string().optional(),
});
export type JwtHeader = z.infer<typeof JwtHeader>;

export const JwtClaims = z.looseObject({
  iss: z.string().optional(),
  sub: z.string().optional(),
  aud: stringOrStrings.optional(),
  exp: numericDate.optional(),
  nbf: numericDate.optional(),
  iat: numericDate.optional(),
  jti: z.string().optional(),
  /** OAuth 2.0 writes scopes space-separated; some OpenID providers send `scp` as a list. */
  scope: z.string().optional(),
  scp: stringOrStrings.optional(),
  email: z.string().optional(),
  email_verified: z.boolean().optional(),
  /** Server tokens traded for a service-account key: the key they die with. */
  sa_key_id: z.string().optional(),
  target_audience: z.string().optional(),
});
export type JwtClaims = z.infer<typeof JwtClaims>;

/** Why a header or claims set does not have its shape, naming the parameter: "'kid': Invalid input: expected string, received object". */
export function shapeProblem(error: z.ZodError, part: string): string {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? `'${issue.path.join('.')}'` : 'it';
  return `the token's ${part} are malformed: ${field}: ${issue?.message ?? 'invalid'}.`;
}
