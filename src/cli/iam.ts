import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { canonicalMember } from '../iam/policy.js';
import { callServer, ServerError, type ServerOptions as Server } from './rest-client.js';

/** google.iam.v1.Policy in its JSON form, as the server sends it. */
interface PolicyJson {
  version?: number;
  bindings?: { role: string; members: string[] }[];
  etag?: string;
}

interface ServerOptions extends Server {
  project: string;
}

/** How often add-binding and remove-binding redo their read-modify-write when another write came between. */
const ATTEMPTS = 5;

/** One IAMPolicy call over REST, at Resource Manager v1's paths; a non-2xx answer throws its google.rpc.Status message. */
async function call(options: ServerOptions, verb: 'getIamPolicy' | 'setIamPolicy', body: object): Promise<PolicyJson> {
  return (await callServer(options, 'POST', `/v1/projects/${encodeURIComponent(options.project)}:${verb}`, body)) as PolicyJson;
}

/**
 * Reads the policy, changes it with `edit`, and writes it back with the etag of the read, so a
 * concurrent change is never overwritten; when one came between (ABORTED), starts over.
 */
export async function readModifyWrite(options: ServerOptions, edit: (policy: PolicyJson) => PolicyJson): Promise<PolicyJson> {
  for (let attempt = 1; ; attempt++) {
    const current = await call(options, 'getIamPolicy', {});
    try {
      return await call(options, 'setIamPolicy', { policy: edit(current) });
    } catch (error) {
      if (!(error instanceof ServerError) || error.status !== 'ABORTED' || attempt === ATTEMPTS) throw error;
    }
  }
}

export function addBinding(policy: PolicyJson, role: string, member: string): PolicyJson {
  const bindings = (policy.bindings ?? []).map((b) => ({ ...b, members: [...b.members] }));
  const binding = bindings.find((b) => b.role === role);
  if (!binding) bindings.push({ role, members: [member] });
  else if (!binding.members.includes(member)) binding.members.push(member);
  return { ...policy, bindings };
}

function removeBinding(policy: PolicyJson, role: string, member: string, project: string): PolicyJson {
  const bindings = policy.bindings ?? [];
  // The server keeps members in canonical form (emails lowercased).
  const same = (m: string) => m === member || m === canonicalMember(member);
  if (!bindings.some((b) => b.role === role && b.members.some(same))) {
    throw new Error(`${member} has no binding to ${role} in the policy of projects/${project}.`);
  }
  const remaining = bindings.map((b) => (b.role === role ? { ...b, members: b.members.filter((m) => !same(m)) } : b));
  return { ...policy, bindings: remaining.filter((b) => b.members.length > 0) };
}

function print(policy: PolicyJson): void {
  process.stdout.write(JSON.stringify(policy, null, 2) + '\n');
}

/** A subcommand with the options every iam subcommand takes. */
function subcommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .requiredOption('--project <project>', 'project id: the policy of projects/PROJECT')
    .option('--server <url>', 'the emulator to talk to', 'http://127.0.0.1:8080')
    .option('--token <token>', 'access token sent as a Bearer credential (default: $DEVCONNECT_TOKEN)');
}

/** `devconnect-emulator iam …`: read and change project IAM policies over the server's REST API. */
export function iamCommand(): Command {
  return new Command('iam')
    .description('read and change IAM policies of projects on a running server')
    .addCommand(
      subcommand('get', 'print the policy of a project').action(async (opts: ServerOptions) => {
        print(await call(opts, 'getIamPolicy', {}));
      }),
    )
    .addCommand(
      subcommand('set', 'replace the policy of a project with a JSON policy file (an etag in it must be current)')
        .requiredOption('--file <file>', 'JSON google.iam.v1.Policy: {"bindings": [{"role": …, "members": […]}], "etag"?, "version"?}')
        .action(async (opts: ServerOptions & { file: string }) => {
          let policy: unknown;
          try {
            policy = JSON.parse(readFileSync(opts.file, 'utf8'));
          } catch (error) {
            throw new Error(`${opts.file}: ${(error as Error).message}`, { cause: error });
          }
          print(await call(opts, 'setIamPolicy', { policy }));
        }),
    )
    .addCommand(
      subcommand('add-binding', 'grant a role to a member on a project')
        .requiredOption('--role <role>', 'e.g. roles/developerconnect.viewer')
        .requiredOption('--member <member>', 'user:EMAIL, serviceAccount:EMAIL, group:EMAIL, allAuthenticatedUsers or allUsers')
        .action(async (opts: ServerOptions & { role: string; member: string }) => {
          print(await readModifyWrite(opts, (policy) => addBinding(policy, opts.role, opts.member)));
        }),
    )
    .addCommand(
      subcommand('remove-binding', 'revoke a role from a member on a project')
        .requiredOption('--role <role>', 'e.g. roles/developerconnect.viewer')
        .requiredOption('--member <member>', 'the member as it appears in the policy')
        .action(async (opts: ServerOptions & { role: string; member: string }) => {
          print(await readModifyWrite(opts, (policy) => removeBinding(policy, opts.role, opts.member, opts.project)));
        }),
    );
}
