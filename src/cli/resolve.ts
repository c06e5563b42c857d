/**
 * `modelgate resolve REF`: print the digest (`sha256:…`) a tag or digest reference names.
 *
 * Owns: the command only. A digest reference is checked to exist (and verified) rather than echoed.
 */
import type { Command } from 'commander';
import { manifestSelector } from '../oci/reference.ts';
import { outputOption, type OutputFormat } from './output-format.ts';
import { addStoreOptions, openReference, type StoreCliOptions } from './store-options.ts';

export function register(program: Command): void {
  const command = program
    .command('resolve')
    .description('print the manifest digest a reference (tag or digest) names; accepts oci://, plain and oci-layout:// references')
    .argument('<reference>', 'e.g. oci://registry.example.com/models/llama:v1 or oci-layout://./layout:v1')
    .addOption(outputOption('output format: text (the digest) or json ({reference, digest})'));
  addStoreOptions(command).action(async (reference: string, options: StoreCliOptions & { output: OutputFormat }) => {
    const { ref, store } = await openReference(reference, options);
    const descriptor = await store.resolve(manifestSelector(ref));
    process.stdout.write(options.output === 'json' ? `${JSON.stringify({ reference, digest: descriptor.digest })}\n` : `${descriptor.digest}\n`);
  });
}
