/**
 * The list of subcommands. One line per command module; keep it sorted by job
 * (OCI inspection, verification, policy, emitter, serving).
 */
import type { Command } from 'commander';
import { register as registerResolve } from './resolve.ts';
import { register as registerInspect } from './inspect.ts';
import { register as registerKeygen } from './keygen.ts';
import { register as registerPolicy } from './policy.ts';
import { register as registerVerifyBundle } from './verify-bundle.ts';
import { register as registerVerifySignatures } from './verify-signatures.ts';
import { register as registerVerifyImage } from './verify-image.ts';
import { register as registerVerifyModel } from './verify-model.ts';
import { register as registerVerifyArtifact } from './verify-artifact.ts';
import { register as registerVerify } from './verify.ts';
import { register as registerDataset } from './dataset.ts';

export function registerCommands(program: Command): void {
  void program;
  registerResolve(program);
  registerInspect(program);
  registerKeygen(program);
  registerPolicy(program);
  registerVerifyBundle(program);
  registerVerifySignatures(program);
  registerVerifyImage(program);
  registerVerifyModel(program);
  registerVerifyArtifact(program);
  registerVerify(program);
  registerDataset(program);
}
