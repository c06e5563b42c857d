/**
 * Test-only PKI built with the `openssl` command: a root CA, an intermediate and a code-signing leaf
 * (ECDSA P-256), plus an unrelated root for wrong-CA tests.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  rootPem: string;
  otherRootPem: string;
  intermediateDer: Buffer;
  leafDer: Buffer;
  leafKey: KeyObject;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function keyAndCsr(dir: string, name: string, cn: string): void {
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`]);
}

function selfSigned(dir: string, name: string, cn: string): void {
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  openssl(dir, [
    'req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-days', '3650', '-out', `${name}.pem`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function issue(dir: string, name: string, issuer: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-days', '3650', '-out', `${name}.pem`, '-extfile', `${name}.ext`]);
}

function der(dir: string, name: string): Buffer {
  return Buffer.from(new X509Certificate(readFileSync(join(dir, `${name}.pem`))).raw);
}

export function makePki(dir: string): TestPki {
  selfSigned(dir, 'root', 'test-root');
  selfSigned(dir, 'other', 'test-root'); // same name, different key: only signatures tell them apart
  keyAndCsr(dir, 'int', 'test-intermediate');
  issue(dir, 'int', 'root', 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  keyAndCsr(dir, 'leaf', 'test-signer');
  issue(dir, 'leaf', 'int', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  return {
    rootPem: readFileSync(join(dir, 'root.pem'), 'utf8'),
    otherRootPem: readFileSync(join(dir, 'other.pem'), 'utf8'),
    intermediateDer: der(dir, 'int'),
    leafDer: der(dir, 'leaf'),
    leafKey: createPrivateKey(readFileSync(join(dir, 'leaf.key'))),
  };
}
