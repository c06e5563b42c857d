// confineLayouts: the webhook opens oci-layout:// locations only under its --layout-root directories
// (symbolic links resolved first); registry locations pass through; without roots every layout is refused.
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { confineLayouts } from '../../src/admission/layout-roots.ts';
import { parseReference, type ArtifactReference } from '../../src/oci/reference.ts';
import type { ArtifactStore } from '../../src/oci/store.ts';

t.test('layouts inside a root open, others are refused with LAYOUT_NOT_ALLOWED', (t) => {
  const dir = t.testdir();
  mkdirSync(join(dir, 'root/models/a'), { recursive: true });
  mkdirSync(join(dir, 'outside'));
  symlinkSync(join(dir, 'outside'), join(dir, 'root/escape'));
  const opened: ArtifactReference[] = [];
  const stores = confineLayouts((ref) => {
    opened.push(ref);
    return {} as ArtifactStore;
  }, [join(dir, 'root')]);
  const open = (text: string) => stores(parseReference(text));

  open(`oci-layout://${join(dir, 'root/models/a')}:v1`);
  open(`modelgate+oci-layout://${join(dir, 'root')}@sha256:${'a'.repeat(64)}`);
  open('oci://registry.example/models/a:v1');
  t.equal(opened.length, 3);
  t.throws(() => open(`oci-layout://${join(dir, 'outside')}:v1`), { code: 'LAYOUT_NOT_ALLOWED' });
  t.throws(() => open(`oci-layout://${join(dir, 'root/escape')}:v1`), { code: 'LAYOUT_NOT_ALLOWED' }, 'a symbolic link out of the root');
  t.throws(() => open(`oci-layout://${join(dir, 'root-sibling')}:v1`), { code: 'LAYOUT_NOT_ALLOWED' }, 'a sibling sharing the prefix');
  t.throws(() => open(`oci-layout://${join(dir, 'root/models/../../outside')}:v1`), { code: 'LAYOUT_NOT_ALLOWED' });
  t.equal(opened.length, 3);

  const none = confineLayouts(() => ({}) as ArtifactStore, []);
  t.throws(() => none(parseReference(`oci-layout://${join(dir, 'root')}:v1`)), { code: 'LAYOUT_NOT_ALLOWED', message: /no --layout-root/ });
  t.doesNotThrow(() => none(parseReference('oci://registry.example/models/a:v1')));
  t.end();
});
