import { ApiError, Code } from '../common/errors.js';

/**
 * Counts one request refused for its credentials or permissions, by reason
 * (`devconnect_auth_denials_total{reason}`). The transports count API calls themselves; the
 * server's other surfaces (POST /token, the git proxy, /emulator/v1/faults, the console) are
 * handed this to count theirs.
 */
export type CountDenial = (reason: string) => void;

/**
 * The reason to count an error by when it is a denial (UNAUTHENTICATED or PERMISSION_DENIED): its
 * ErrorInfo reason, as Google's services send it (`ACCESS_TOKEN_EXPIRED`, `IAM_PERMISSION_DENIED`),
 * else the code's name. Undefined for any other error.
 */
export function denialReasonOf(error: unknown): string | undefined {
  if (!(error instanceof ApiError) || (error.code !== Code.UNAUTHENTICATED && error.code !== Code.PERMISSION_DENIED)) return undefined;
  return error.errorInfo?.reason ?? Code[error.code];
}
