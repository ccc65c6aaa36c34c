import autocannon from 'autocannon';

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

/** autocannon (keep-alive, no pipelining) on one GET URL for `seconds`, with `headers` on every request. */
export async function hammer(url: string, options: { connections: number; seconds: number; headers?: Record<string, string> }): Promise<LoadResult> {
  const result = await autocannon({
    url,
    method: 'GET',
    headers: options.headers ?? {},
    connections: options.connections,
    pipelining: 1,
    duration: options.seconds,
    timeout: 10,
  });
  const elapsedS = (result.finish.getTime() - result.start.getTime()) / 1000 || result.duration;
  return {
    rps: result['2xx'] / elapsedS,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
