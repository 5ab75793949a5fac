/**
 * Whether a shared service of this machine (a database, a broker) is there, and `describe` for the
 * suites that need one: an absent service skips them with a console message, except under
 * `CI=true`, where they run (and fail) so a missing service is never silent.
 */
import { spawnSync } from 'node:child_process';

/** Where a service listens. */
export interface ServiceAddress {
  readonly host: string;
  readonly port: number;
}

const reachability = new Map<string, boolean>();

/**
 * Whether the service answers a TCP connection within a second. Checked in a child process so
 * that it can be synchronous (`describe` blocks are declared when the file loads), once per
 * address and process.
 */
export function isServiceReachable({ host, port }: ServiceAddress): boolean {
  const key = `${host}:${port}`;
  let known = reachability.get(key);
  if (known === undefined) {
    const probe =
      `const s=require('net').connect(${port},${JSON.stringify(host)});` +
      `s.setTimeout(1000,()=>process.exit(1));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));`;
    known = spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
    reachability.set(key, known);
  }
  return known;
}

/** `describe(title [name])` when `reachable`, or under `CI=true`; else skipped, saying why. */
export function describeIfService(
  name: string,
  address: ServiceAddress,
  reachable: boolean,
  title: string,
  fn: () => void,
): void {
  if (reachable || process.env.CI === 'true') {
    describe(`${title} [${name}]`, fn);
    return;
  }
  console.log(`Skipping "${title}": no ${name} at ${address.host}:${address.port} (set CI=true to fail instead)`);
  describe.skip(`${title} [${name}]`, fn);
}
