// One closed vocabulary of error codes: every domain declares its codes as a const tuple, `ErrorCode` is
// their union, and no code belongs to two domains — so a code names its error class, and `hasCode`
// branches on class + code. Adding a domain to `ErrorCode` without listing its tuple here fails typecheck.
import t from 'tap';
import { ADMISSION_ERROR_CODES } from '../src/admission/errors.ts';
import { ATTESTATION_ERROR_CODES } from '../src/attest/errors.ts';
import { DATASET_ERROR_CODES } from '../src/dataset/errors.ts';
import { EMIT_ERROR_CODES } from '../src/emit/errors.ts';
import { INTERNAL_ERROR_CODES, ModelgateError, OCI_ERROR_CODES, OciError, USAGE_ERROR_CODES, UsageError, hasCode, type ErrorCode } from '../src/errors.ts';
import { HASHING_ERROR_CODES, HashingError } from '../src/hashing/errors.ts';
import { INIT_ERROR_CODES, InitError } from '../src/init/errors.ts';
import { K8S_ERROR_CODES } from '../src/k8s/errors.ts';
import { MODEL_PACK_ERROR_CODES } from '../src/modelpack/pack.ts';
import { VARIANT_ERROR_CODES } from '../src/modelpack/variants.ts';
import { MODEL_SIGNATURE_ERROR_CODES } from '../src/oms/errors.ts';
import { POLICY_ERROR_CODES } from '../src/policy/errors.ts';
import { ATTACH_ERROR_CODES } from '../src/sign/attach-predicate.ts';
import { SIGNING_ERROR_CODES } from '../src/sign/errors.ts';
import { VERIFICATION_ERROR_CODES } from '../src/sigstore/errors.ts';

const DOMAINS = {
  oci: OCI_ERROR_CODES,
  usage: USAGE_ERROR_CODES,
  internal: INTERNAL_ERROR_CODES,
  verification: VERIFICATION_ERROR_CODES,
  admission: ADMISSION_ERROR_CODES,
  attestation: ATTESTATION_ERROR_CODES,
  attach: ATTACH_ERROR_CODES,
  dataset: DATASET_ERROR_CODES,
  emit: EMIT_ERROR_CODES,
  hashing: HASHING_ERROR_CODES,
  init: INIT_ERROR_CODES,
  k8s: K8S_ERROR_CODES,
  modelPack: MODEL_PACK_ERROR_CODES,
  variant: VARIANT_ERROR_CODES,
  modelSignature: MODEL_SIGNATURE_ERROR_CODES,
  policy: POLICY_ERROR_CODES,
  signing: SIGNING_ERROR_CODES,
} as const;

type Listed = (typeof DOMAINS)[keyof typeof DOMAINS][number];
// Both directions: a code in ErrorCode that no listed tuple declares (or the reverse) is a type error here.
const listedIsErrorCode: [Listed] extends [ErrorCode] ? ([ErrorCode] extends [Listed] ? true : false) : false = true;

t.test('every code belongs to exactly one domain', async (t) => {
  t.ok(listedIsErrorCode);
  const owners = new Map<string, string[]>();
  for (const [domain, codes] of Object.entries(DOMAINS)) {
    for (const code of codes) owners.set(code, [...(owners.get(code) ?? []), domain]);
  }
  const shared = [...owners].filter(([, domains]) => domains.length > 1).map(([code, domains]) => `${code} (${domains.join(', ')})`);
  t.same(shared, [], 'no code is declared by two domains');
  for (const code of owners.keys()) t.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, `${code} is SCREAMING_SNAKE_CASE`);
});

t.test('hasCode branches on class and code', async (t) => {
  const aborted = new OciError('ABORTED', 'the caller aborted');
  const hashingAborted = new HashingError('HASHING_ABORTED', 'the caller aborted');
  t.ok(hasCode(aborted, OciError, 'ABORTED'));
  t.ok(hasCode(aborted, OciError, 'NOT_FOUND', 'ABORTED'), 'any of the codes');
  t.notOk(hasCode(aborted, OciError, 'NOT_FOUND'));
  t.notOk(hasCode(hashingAborted, OciError, 'ABORTED'), 'another class never matches');
  t.ok(hasCode(hashingAborted, HashingError, 'HASHING_ABORTED'));
  t.ok(hasCode(new InitError('INIT_IO', 'x'), InitError), 'no codes: any code of the class');
  t.ok(hasCode(new UsageError('CONFIG', 'x'), ModelgateError), 'the base class matches every domain');
  t.notOk(hasCode(Object.assign(new Error('x'), { code: 'ABORTED' }), OciError, 'ABORTED'), 'a plain Error with a code property is not an OciError');
  t.notOk(hasCode(undefined, OciError));
});
