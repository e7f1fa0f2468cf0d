/**
 * Network namespaces as separate hosts (Linux, root): namespace `tl-wN` holds one end of a veth
 * pair (`tl-nN`, 10.77.N.2/30); the other end (`tl-hN`, 10.77.N.1/30) stays on this host, where
 * Redis listens. A process run with `ip netns exec tl-wN …` sees only its loopback and that link,
 * so all it shares with the API is Redis over a network. (The filesystem is not separated:
 * network namespaces do not do that, so the workers still read uploads from the same DATA_DIR.)
 */
import { execFileSync } from 'node:child_process';

export interface Host {
  ns: string;
  /** This host's address on the link: where Redis listens for this namespace. */
  hostIp: string;
  nsIp: string;
}

const created = new Set<number>();

function ip(args: string[], allowFail = false): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    if (!allowFail) throw new Error(`ip ${args.join(' ')}: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
}

function names(n: number) {
  return { ns: `tl-w${n}`, host: `tl-h${n}`, peer: `tl-n${n}`, hostIp: `10.77.${n}.1`, nsIp: `10.77.${n}.2` };
}

/** Creates namespace N (removing a leftover one of the same name first). */
export function addHost(n: number): Host {
  const x = names(n);
  removeHost(n);
  created.add(n);
  ip(['netns', 'add', x.ns]);
  ip(['link', 'add', x.host, 'type', 'veth', 'peer', 'name', x.peer]);
  ip(['link', 'set', x.peer, 'netns', x.ns]);
  ip(['addr', 'add', `${x.hostIp}/30`, 'dev', x.host]);
  ip(['link', 'set', x.host, 'up']);
  ip(['netns', 'exec', x.ns, 'ip', 'addr', 'add', `${x.nsIp}/30`, 'dev', x.peer]);
  ip(['netns', 'exec', x.ns, 'ip', 'link', 'set', x.peer, 'up']);
  ip(['netns', 'exec', x.ns, 'ip', 'link', 'set', 'lo', 'up']);
  return { ns: x.ns, hostIp: x.hostIp, nsIp: x.nsIp };
}

/** Removes namespace N and its veth pair (synchronous, so it can run in an exit handler). */
export function removeHost(n: number): void {
  const x = names(n);
  ip(['netns', 'del', x.ns], true);
  ip(['link', 'del', x.host], true); // normally gone with the namespace's end already
  created.delete(n);
}

export function removeAllHosts(): void {
  for (const n of [...created]) removeHost(n);
}

/** `ip netns exec` replaces itself with the command (no fork), so the child's pid is node's own. */
export function inNamespace(ns: string, cmd: string, args: string[]): { cmd: string; args: string[] } {
  return { cmd: 'ip', args: ['netns', 'exec', ns, cmd, ...args] };
}
