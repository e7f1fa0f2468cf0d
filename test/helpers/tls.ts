/**
 * A certificate authority and a server certificate of the test's own (openssl), so a test can run
 * https endpoints on this machine that a server process trusts through NODE_EXTRA_CA_CERTS, as it
 * would trust a public push service.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestTls {
  /** PEM file of the CA: give it to a process as NODE_EXTRA_CA_CERTS. */
  caFile: string;
  key: string;
  cert: string;
  remove(): void;
}

/** A CA, and a certificate it signed for the given IP addresses and names. */
export function makeTestTls(ips: string[], names: string[] = ['localhost']): TestTls {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-tls-'));
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Twinlens test CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
  );
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=twinlens-test-endpoint',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
  );
  const san = [...ips.map((ip) => `IP:${ip}`), ...names.map((n) => `DNS:${n}`)].join(',');
  fs.writeFileSync(f('ext.cnf'), `subjectAltName=${san}\n`);
  openssl(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
    '-out',
    f('server.pem'),
  );
  return {
    caFile: f('ca.pem'),
    key: fs.readFileSync(f('server.key'), 'utf8'),
    cert: fs.readFileSync(f('server.pem'), 'utf8'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
