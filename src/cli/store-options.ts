/**
 * Command-line access to artifact stores, shared by every command that takes a reference.
 *
 * Owns: the `--docker-config` and `--plain-http` options and turning a reference string plus those
 * options into an `ArtifactStore` (through `openStore`). Credentials are read only for registry
 * references and never printed.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { parseReference, type ArtifactReference } from '../oci/reference.ts';
import type { ArtifactStore } from '../oci/store.ts';

export interface StoreCliOptions {
  readonly dockerConfig?: string;
  readonly plainHttp?: readonly string[];
}

function collect(value: string, previous: readonly string[]): string[] {
  return [...previous, value];
}

/** Add the registry access options to a command. */
export function addStoreOptions(command: Command): Command {
  return command
    .option('--docker-config <file>', 'Docker config.json with registry credentials (default: $DOCKER_CONFIG/config.json, else ~/.docker/config.json, if present)')
    .option('--plain-http <host>', 'reach this registry host[:port] over plain HTTP (repeatable; loopback hosts always are)', collect, []);
}

/** Parse `text` and open the store it points to. */
export async function openReference(text: string, options: StoreCliOptions): Promise<{ ref: ArtifactReference; store: ArtifactStore }> {
  const ref = parseReference(text);
  // Loaded on use: registering commands must stay cheap, and the registry client pulls in undici.
  const { openStore } = await import('../oci/open.ts');
  if (ref.kind === 'layout') return { ref, store: openStore(ref) };
  if (options.dockerConfig !== undefined && !existsSync(options.dockerConfig)) {
    throw new UsageError('CONFIG', `docker config ${options.dockerConfig} does not exist`);
  }
  const { defaultDockerConfigPath, loadDockerConfig } = await import('../oci/credentials.ts');
  const credentials = await loadDockerConfig(options.dockerConfig ?? defaultDockerConfigPath());
  const store = openStore(ref, { registry: { credentials, plainHttpRegistries: options.plainHttp ?? [] } });
  return { ref, store };
}
