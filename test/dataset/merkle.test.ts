/**
 * RFC 6962 Merkle tree: known-answer roots and audit paths (the reference test vectors used by the
 * certificate-transparency and Trillian implementations), an independent hand computation, and
 * RFC 9162 path verification including tampering and every index of every small tree.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { auditPath, leafHash, merkleTreeHash, nodeHash, rootFromLeafHashes, verifyAuditPath } from '../../src/dataset/merkle.ts';

const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));

/** MTH of the first n reference leaves (RFC 6962 test vectors from certificate-transparency / Trillian). */
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

t.test('tree heads match the RFC 6962 reference vectors', async (t) => {
  for (let n = 0; n <= 8; n++) t.equal(merkleTreeHash(LEAVES.slice(0, n)).toString('hex'), ROOTS[n], `MTH of ${n} leaves`);
  t.equal(rootFromLeafHashes([]).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'empty tree = SHA-256("")');
});

t.test('a 5-leaf tree computed by hand (split at 4, domain-separated)', async (t) => {
  const l = LEAVES.slice(0, 5).map((d) => sha256(Buffer.of(0), d));
  const n = (a: Buffer, b: Buffer): Buffer => sha256(Buffer.of(1), a, b);
  const expected = n(n(n(l[0] as Buffer, l[1] as Buffer), n(l[2] as Buffer, l[3] as Buffer)), l[4] as Buffer);
  t.ok(merkleTreeHash(LEAVES.slice(0, 5)).equals(expected));
  t.ok(leafHash(LEAVES[1] as Buffer).equals(l[1] as Buffer));
  t.ok(nodeHash(l[0] as Buffer, l[1] as Buffer).equals(n(l[0] as Buffer, l[1] as Buffer)));
});

t.test('audit paths match the reference vectors', async (t) => {
  const hashes = LEAVES.map(leafHash);
  const hex = (bs: Buffer[]): string[] => bs.map((b) => b.toString('hex'));
  t.same(hex(auditPath(hashes, 0)), [
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ], 'PATH(0, D[8])');
  t.same(hex(auditPath(hashes.slice(0, 5), 4)), [ROOTS[4]], 'PATH(4, D[5]) is the root of the first 4 leaves');
  t.same(auditPath(hashes.slice(0, 1), 0), [], 'PATH(0, D[1]) is empty');
  t.throws(() => auditPath(hashes, 8), RangeError);
});

t.test('every leaf of every tree up to 17 leaves verifies; tampering does not', async (t) => {
  const data = Array.from({ length: 17 }, (_, i) => Buffer.from(`leaf-${i}`));
  for (let size = 1; size <= data.length; size++) {
    const hashes = data.slice(0, size).map(leafHash);
    const root = rootFromLeafHashes(hashes);
    for (let index = 0; index < size; index++) {
      const path = auditPath(hashes, index);
      const leaf = hashes[index] as Buffer;
      if (!verifyAuditPath(leaf, index, size, path, root)) t.fail(`leaf ${index} of ${size} should verify`);
      // (A different tree size with the same path shape yields the same root: RFC 6962 roots do not
      // bind the size by themselves; the manifest's signed fileCount does.)
      if (index === size - 1 && size > 1 && verifyAuditPath(leaf, index, index, path, root)) t.fail(`index beyond the tree must fail (${index}/${size})`);
      if (size > 1 && verifyAuditPath(leaf, (index + 1) % size, size, path, root)) t.fail(`wrong index must fail (${index}/${size})`);
      if (path.length > 0) {
        const bad = path.map((p) => Buffer.from(p));
        (bad[0] as Buffer)[0] = ((bad[0] as Buffer)[0] ?? 0) ^ 1;
        if (verifyAuditPath(leaf, index, size, bad, root)) t.fail(`tampered path must fail (${index}/${size})`);
        if (verifyAuditPath(leaf, index, size, [...path, leaf], root)) t.fail(`extra path element must fail (${index}/${size})`);
        if (verifyAuditPath(leaf, index, size, path.slice(0, -1), root)) t.fail(`short path must fail (${index}/${size})`);
      }
    }
  }
  t.pass('checked all indices');
  const hashes = data.slice(0, 3).map(leafHash);
  t.notOk(verifyAuditPath(hashes[0] as Buffer, -1, 3, [], rootFromLeafHashes(hashes)));
  t.notOk(verifyAuditPath(hashes[0] as Buffer, 0, 0, [], rootFromLeafHashes(hashes)));
  t.notOk(verifyAuditPath(Buffer.alloc(5), 0, 1, [], Buffer.alloc(5)), 'wrong hash lengths are not a proof');
});

t.test('the level-by-level root equals the recursive RFC 6962 definition for every size up to 130', async (t) => {
  const mth = (hashes: Buffer[]): Buffer => {
    if (hashes.length === 1) return hashes[0] as Buffer;
    let k = 1;
    while (k * 2 < hashes.length) k *= 2;
    return sha256(Buffer.of(1), mth(hashes.slice(0, k)), mth(hashes.slice(k)));
  };
  const leaves = Array.from({ length: 130 }, (_, i) => sha256(Buffer.of(0), Buffer.from(`leaf ${i}`)));
  let mismatches = 0;
  for (let n = 1; n <= leaves.length; n++) if (!rootFromLeafHashes(leaves.slice(0, n)).equals(mth(leaves.slice(0, n)))) mismatches += 1;
  t.equal(mismatches, 0);
  t.ok(nodeHash(Buffer.from('ab'), Buffer.from('c')).equals(sha256(Buffer.from('\x01abc'))), 'nodeHash of non-hash-sized inputs still concatenates');
});
