import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** How long one gcloud command may take: each starts a Python interpreter (1-3 s) and may call the server. */
const TIMEOUT_MS = 120_000;

/** Runs the Google Cloud CLI (`gcloud`) as a process, never prompting, and returns its standard output. */
export class Gcloud {
  constructor(
    /** The executable: `gcloud` on PATH unless told otherwise. */
    private readonly executable = 'gcloud',
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** `gcloud ARGS --quiet`; a non-zero exit throws with gcloud's own error text. */
  run(args: readonly string[]): Promise<string> {
    const argv = [...args, '--quiet'];
    return new Promise((resolve, reject) => {
      execFile(this.executable, argv, { env: this.env, timeout: TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          return reject(new Error(`${this.executable} was not found: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install) or put it on PATH.`));
        }
        const said = stderr.trim() || stdout.trim() || error.message;
        reject(new Error(`gcloud ${argv.join(' ')} failed: ${said}`, { cause: error }));
      });
    });
  }

  /**
   * The folder gcloud keeps its configurations and credentials in: CLOUDSDK_CONFIG, else its
   * per-user default (%APPDATA%\gcloud on Windows, ~/.config/gcloud elsewhere).
   */
  configDir(): string {
    if (this.env.CLOUDSDK_CONFIG) return this.env.CLOUDSDK_CONFIG;
    if (process.platform === 'win32' && this.env.APPDATA) return join(this.env.APPDATA, 'gcloud');
    return join(homedir(), '.config', 'gcloud');
  }

  /**
   * The properties a named configuration sets (`section/name` → value, as `gcloud config set` names
   * them), read from its file; undefined when there is no such configuration.
   */
  configuration(name: string): Map<string, string> | undefined {
    const file = join(this.configDir(), 'configurations', `config_${name}`);
    if (!existsSync(file)) return undefined;
    const properties = new Map<string, string>();
    let section = '';
    for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
      const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
      const property = /^\s*([^=#;\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
      if (header) section = header[1]!;
      else if (property) properties.set(`${section}/${property[1]}`, property[2]!);
    }
    return properties;
  }
}
