/**
 * Command-line access to artifact stores, shared by every command that takes a reference.
 *
 * Owns: the `--docker-config` and `--plain-http` options and turning a reference string plus those
 * options into an `ArtifactStore` (through `openStore`). Credentials are read only for registry
 * references and never printed.
 */
import type { Command } from 'commander';
import { declareSettings } from '../config/settings.ts';
import { parseReference, type ArtifactReference } from '../oci/reference.ts';
import type { ArtifactStore } from '../oci/store.ts';

export interface StoreCliOptions {
  readonly dockerConfig?: string;
  readonly plainHttp?: readonly string[];
}

/** Add the registry access settings (`--docker-config`, `--plain-http`, their variables) to a command. */
export function addStoreOptions(command: Command): Command {
  return declareSettings(command, ['registry']);
}

/** Parse `text` and open the store it points to. */
export async function openReference(text: string, options: StoreCliOptions): Promise<{ ref: ArtifactReference; store: ArtifactStore }> {
  const ref = parseReference(text);
  // Loaded on use: registering commands must stay cheap, and the registry client pulls in undici.
  const { openStore } = await import('../oci/open.ts');
  if (ref.kind === 'layout') return { ref, store: openStore(ref) };
  const [{ readRegistrySettings }, { loadCredentials }] = await Promise.all([import('../config/read.ts'), import('../config/load.ts')]);
  const settings = readRegistrySettings(options);
  const credentials = await loadCredentials(settings.dockerConfig);
  const store = openStore(ref, { registry: { credentials, plainHttpRegistries: settings.plainHttp } });
  return { ref, store };
}
