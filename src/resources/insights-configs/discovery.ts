import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import type { Logger } from 'pino';
import { parseFilter } from '../../api/filter.js';
import { resourceIndex } from '../../api/list-page.js';
import { newEtag } from '../../api/standard-support.js';
import { PreconditionFailedError } from '../../common/preconditions.js';
import { InsightsConfigSchema } from '../../gen/google/cloud/developerconnect/v1/insights_config_pb.js';
import type { OperationStore, ResourceRecord, ResourceStore } from '../../store/store.js';
import { discovered, insightsConfigs } from './index.js';

/** Configs read per query of a pass. */
const BATCH = 100;

/**
 * The end of InsightsConfigs' discovery: a config PENDING for `delayMs` (`serve
 * --insights-discovery-delay`) since its last write is made COMPLETE, as the cloud's discovery of
 * the App Hub application's runtimes would end. The stored config is the only record: every pass
 * lists the PENDING configs of every project and location, so what a stopped server, or another
 * node of a cluster, left PENDING is completed by whichever node passes next. A config an
 * operation is working on is left for a later pass, and the completion is a write conditional on
 * the etag read, so an update that commits first wins and the config is looked at again later.
 * Nodes passing at once race harmlessly in the same way.
 */
export class InsightsDiscovery {
  private readonly everyMs: number;
  private timer?: NodeJS.Timeout;
  private pass?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly store: Pick<ResourceStore, 'listResources' | 'applyResourceChange'> & Pick<OperationStore, 'unfinishedTargets'>,
    private readonly options: { delayMs: number; log: Logger },
  ) {
    // Every half delay, so a config waits at most one and a half delays; at least every 10 s for long ones.
    this.everyMs = Math.min(Math.max(options.delayMs / 2, 100), 10_000);
  }

  /** Passes from now on, one at a time, until `stop`. */
  start(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.pass = this.completeDue()
        .then(
          (completed) => {
            if (completed > 0) this.options.log.debug({ completed }, 'insights configs discovered');
          },
          (error: unknown) => this.options.log.warn({ err: error }, 'insights discovery pass failed; the next one tries again'),
        )
        .finally(() => {
          this.pass = undefined;
          this.timer = undefined;
          this.start();
        });
    }, this.everyMs);
    this.timer.unref();
  }

  /** No more passes; resolves once a pass under way has ended (before the store closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  /** One pass: completes every config PENDING since `delayMs` before `now`; resolves with how many. */
  async completeDue(now = Date.now()): Promise<number> {
    const due = new Date(now - this.options.delayMs).toISOString();
    const filter = parseFilter(`state = PENDING AND update_time <= "${due}"`, insightsConfigs.filterFields);
    let completed = 0;
    let after: string | undefined;
    do {
      const page = await this.store.listResources({ collection: 'insightsConfigs', filter, pageSize: BATCH, after });
      const busy = await this.store.unfinishedTargets(page.items.map((r) => r.name));
      for (const record of page.items) {
        if (this.stopped) return completed;
        if (!busy.has(record.name) && (await this.complete(record))) completed++;
      }
      after = page.next;
    } while (after !== undefined);
    return completed;
  }

  /** Writes the config COMPLETE, if it is still as read; false when it was written or deleted since. */
  private async complete(record: ResourceRecord): Promise<boolean> {
    const config = fromBinary(InsightsConfigSchema, record.data);
    discovered(config);
    config.updateTime = timestampNow();
    try {
      await this.store.applyResourceChange({
        require: [{ kind: 'etag', name: record.name, etag: record.etag }],
        put: { ...record, etag: newEtag(), data: toBinary(InsightsConfigSchema, config), index: resourceIndex(insightsConfigs, config) },
      });
      return true;
    } catch (error) {
      if (error instanceof PreconditionFailedError) return false;
      throw error;
    }
  }
}
