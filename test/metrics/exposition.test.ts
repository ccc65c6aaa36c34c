/**
 * The /metrics text as a scraper parses it, straight after the server starts: prom-client's
 * default event loop lag has no sample yet, and its mean is NaN.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../src/metrics/metrics.js';
import { parseExposition } from '../support/prometheus.js';

test('a metric with no value yet is NaN as the text format spells it, and the whole exposition parses', async () => {
  const text = await new Metrics().text();
  const lag = text.split('\n').find((line) => line.startsWith('nodejs_eventloop_lag_mean_seconds '));
  assert.ok(lag, 'the event loop lag is exposed');
  assert.equal(lag, 'nodejs_eventloop_lag_mean_seconds NaN', 'no sample yet: NaN, not prom-client\'s "Nan"');
  assert.doesNotMatch(text, / Nan$/m);
  parseExposition(text);
});
