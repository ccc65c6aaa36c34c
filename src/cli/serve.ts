import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { startServer } from '../server.js';
import { parseDuration } from './duration.js';

function port(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535.');
  return n;
}

function duration(text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve Developer Connect v1 over gRPC and REST on one address')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', port, 8080)
    .option('--data-dir <dir>', 'where state is kept (SQLite)', './.devconnect-emulator')
    .option('--operation-delay <duration>', 'how long every mutating operation runs before it commits (e.g. 0s, 500ms, 30s)', duration, 0)
    .addOption(new Option('--auth <mode>', 'authentication mode').choices(['none']).default('none'))
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action(async (opts: { host: string; port: number; dataDir: string; operationDelay: number; logLevel: string }) => {
      const logger = pino({ level: opts.logLevel }, pino.destination(2));
      const server = await startServer({
        host: opts.host,
        port: opts.port,
        dataDir: opts.dataDir,
        operationDelayMs: opts.operationDelay,
        logger,
      });
      logger.warn('--auth none: every request is accepted without credentials');
      process.stdout.write(`devconnect-emulator serving gRPC and REST on ${server.url} (data in ${opts.dataDir})\n`);
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        server.close().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
