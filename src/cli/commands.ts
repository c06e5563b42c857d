/**
 * The list of subcommands, loaded lazily: a command module (and the verification, registry or policy
 * code behind it) is imported only when that command runs, so every CLI start — the init container,
 * scripts calling `verify-bundle` in a loop — pays only for what it uses. `--version`, `--help` and a
 * bare `modelgate` load no command module at all: the top-level help is drawn from this table (each
 * command's help term and summary, kept equal to what its module registers by
 * test/cli/lazy-commands.test.ts). `help`, `help CMD` and unknown commands load them all so commander
 * can list and suggest them.
 * Keep the list sorted by job (OCI inspection, verification, policy, emitter, serving).
 */
import { Help, type Command } from 'commander';

interface CommandModule {
  register(program: Command): void;
}

interface CommandEntry {
  readonly name: string;
  /** What the top-level help shows after the name: ` [options] <reference>` (commander's subcommand term). */
  readonly args: string;
  /** The one line the top-level help shows. */
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'resolve', args: ' [options] <reference>', summary: 'print the manifest digest a reference (tag or digest) names; accepts oci://, plain and oci-layout:// references', load: () => import('./resolve.ts') },
  { name: 'inspect', args: ' [options] <reference>', summary: 'show a manifest (media type, config, layers with file paths, subject, annotations), its referrers and cosign tags', load: () => import('./inspect.ts') },
  { name: 'verify-bundle', args: ' [options] [file-or-digest]', summary: 'Verify a Sigstore bundle over an artifact file or sha256:<hex> digest (sigstore-conformance protocol). Exit 0 verified, 1 not verified, 2 error.', load: () => import('./verify-bundle.ts') },
  { name: 'verify-signatures', args: ' [options] <reference>', summary: 'list and verify every cosign signature and attestation of an artifact (bundle referrers, legacy .sig/.att tags); exit 0 if at least one verified', load: () => import('./verify-signatures.ts') },
  { name: 'verify-image', args: ' [options] <reference>', summary: 'verify the SLSA provenance attached to an image or model by slsa-github-generator (slsa-verifier verify-image semantics)', load: () => import('./verify-image.ts') },
  { name: 'verify-model', args: '', summary: 'verify a model directory or file against an OpenSSF model signature (model_signing verify semantics)', load: () => import('./verify-model.ts') },
  { name: 'verify-artifact', args: ' [options] <ARTIFACT...>', summary: 'verify SLSA provenance for artifacts built by the SLSA GitHub generators (slsa-verifier verify-artifact semantics)', load: () => import('./verify-artifact.ts') },
  { name: 'verify-npm-package', args: ' [options] <TARBALL>', summary: 'verify an npm package tarball against its registry attestations (slsa-verifier verify-npm-package semantics)', load: () => import('./verify-npm-package.ts') },
  { name: 'verify', args: ' [options] <reference>', summary: 'verify an artifact end to end (resolve, signatures, SLSA provenance, policy) and print the decision; exit 0 allow, 1 deny, 2 error, 3 registry unavailable, 4 registry refused', load: () => import('./verify.ts') },
  { name: 'explain', args: ' [options] <reference>', summary: 'explain where an artifact comes from: builder, datasets, code, container, parameters, signers, evaluations, files and the policy verdict (terminal tree, JSON or a self-contained HTML page); exit codes as verify', load: () => import('./explain.ts') },
  { name: 'policy', args: '', summary: 'Build, test and evaluate the Rego/WASM admission policy', load: () => import('./policy.ts') },
  { name: 'keygen', args: ' [options]', summary: "Generate an ECDSA P-256 key pair in cosign's format: PREFIX.key (encrypted with MODELGATE_PASSWORD, else COSIGN_PASSWORD, else a prompted passphrase) and PREFIX.pub; prints the key id to list under signers.keys in the policy data", load: () => import('./keygen.ts') },
  { name: 'key', args: '', summary: 'key utilities: `key id` names a key the way the policy data does', load: () => import('./key.ts') },
  { name: 'dataset', args: '', summary: 'Canonical, signable manifests of training datasets (RFC 8785 JSON with an RFC 6962 Merkle root)', load: () => import('./dataset.ts') },
  { name: 'webhook', args: ' [options]', summary: 'serve the KServe validating admission webhook (POST /validate over HTTPS; /healthz, /readyz; /metrics on a plain-HTTP port)', load: () => import('./webhook.ts') },
  { name: 'init', args: ' [options] <pairs...>', summary: 'KServe storage initializer: verify (signatures, provenance, policy) then pull and publish each model; args are URI DEST pairs (modelgate+oci://host/repo@sha256:… /mnt/models); exit 0 published, 1 verification failed, 2 error, 3 registry unavailable, 4 registry refused', load: () => import('./init.ts') },
  { name: 'push', args: ' [options] <model-dir> [reference]', summary: 'Push MODEL_DIR as a CNCF ModelPack artifact with lineage annotations (with --variant: a model index of variants); prints the digest', load: () => import('./push.ts') },
  { name: 'sign', args: ' [options] <reference>', summary: 'Sign an artifact with a private key or keyless, cosign-compatible: a Sigstore bundle referrer and/or (key only) a legacy .sig tag', load: () => import('./sign.ts') },
  { name: 'attest', args: '', summary: 'Sign in-toto attestations about artifacts and training runs', load: () => import('./attest.ts') },
  { name: 'sign-model', args: '', summary: 'Sign a model directory or file into an OpenSSF model-signing model.sig (model_signing sign)', load: () => import('./sign-model.ts') },
];

/**
 * Register the command named by the first non-option argument; with no command named (`--version`,
 * `--help`, nothing), only the table's help entries; otherwise (`help`, a typo) every command.
 */
export async function registerCommands(program: Command, argv: readonly string[]): Promise<void> {
  const requested = argv.find((arg) => !arg.startsWith('-'));
  if (requested === undefined) {
    registerHelpEntries(program);
    return;
  }
  const matching = COMMANDS.filter((command) => command.name === requested);
  for (const command of matching.length > 0 ? matching : COMMANDS) {
    (await command.load()).register(program);
  }
}

/** Placeholder commands carrying only what the top-level help lists; never run (no command was named). */
function registerHelpEntries(program: Command): void {
  const args = new Map(COMMANDS.map((command) => [command.name, command.args]));
  program.configureHelp({
    subcommandTerm(this: Help, command: Command): string {
      const rest = args.get(command.name());
      return rest === undefined ? Help.prototype.subcommandTerm.call(this, command) : `${command.name()}${rest}`; // `help [command]`
    },
  });
  for (const command of COMMANDS) program.command(command.name).description(command.summary);
}
