/**
 * `modelgate resolve REF`: print the digest (`sha256:…`) a tag or digest reference names.
 *
 * Owns: the command only. A digest reference is checked to exist (and verified) rather than echoed.
 */
import type { Command } from 'commander';
import { manifestSelector } from '../oci/reference.ts';
import { addStoreOptions, openReference, type StoreCliOptions } from './store-options.ts';

export function register(program: Command): void {
  const command = program
    .command('resolve')
    .description('print the manifest digest a reference (tag or digest) names; accepts oci://, plain and oci-layout:// references')
    .argument('<reference>', 'e.g. oci://registry.example.com/models/llama:v1 or oci-layout://./layout:v1');
  addStoreOptions(command).action(async (reference: string, options: StoreCliOptions) => {
    const { ref, store } = await openReference(reference, options);
    const descriptor = await store.resolve(manifestSelector(ref));
    process.stdout.write(`${descriptor.digest}\n`);
  });
}
