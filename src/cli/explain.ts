/**
 * `modelgate explain REF`: a human-readable provenance report for one artifact — who built it, from
 * which datasets, code and container, with which parameters, who signed what, evaluation results,
 * the model files and the policy verdict with its reasons.
 *
 * Owns: the command's output options. The report comes from one run of the same pipeline as
 * `modelgate verify` (same settings, `src/config/`; `src/explain/collect.ts`): only verified
 * evidence is shown as verified. Output: a terminal tree (colour on a TTY unless NO_COLOR), `-o json`
 * (the `ExplainReport`), and `--html FILE`, a self-contained page written atomically. Exit codes are
 * `modelgate verify`'s (0 allow, 1 deny, 2 invalid/usage, 3/4 registry unavailable), so a script can
 * gate on the report it just rendered.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import type { SettingFlags } from '../config/read.ts';
import { addOutputOption, type OutputFormat } from './output-format.ts';
import { addPipelineOptions, loadPipelineFromOptions } from './pipeline-options.ts';

type ExplainOptions = SettingFlags & {
  readonly output: OutputFormat;
  readonly html?: string;
};

export function register(program: Command): void {
  const command = program
    .command('explain')
    .description('explain where an artifact comes from: builder, datasets, code, container, parameters, signers, evaluations, files and the policy verdict (terminal tree, JSON or a self-contained HTML page); exit codes as verify')
    .argument('<reference>', 'oci://host/repo[:tag][@sha256:…], host/repo…, or oci-layout://dir…')
    .option('--html <file>', 'also write the report as a self-contained HTML page (atomically, replacing FILE)');
  addOutputOption(command, { description: 'output format: text (a tree; `tree` is accepted too) or json' });
  addPipelineOptions(command).action(async (reference: string, options: ExplainOptions) => {
    const [{ explainReference }, { exitCodeOf }, { outlineOf }, loaded] = await Promise.all([
      import('../explain/collect.ts'),
      import('../pipeline/decide.ts'),
      import('../explain/outline.ts'),
      loadPipelineFromOptions(options),
    ]);
    const { report, result } = await explainReference(reference, loaded.deps);
    const outline = outlineOf(report);
    if (options.html !== undefined) {
      const [{ renderHtml }, { writeFileAtomic }] = await Promise.all([import('../explain/html.ts'), import('../fs/atomic-write.ts')]);
      try {
        await writeFileAtomic(options.html, renderHtml(outline), { overwrite: true });
      } catch (err) {
        throw new UsageError('USAGE', `cannot write ${options.html}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    if (options.output === 'json') {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const { renderTree, useColour } = await import('../explain/tree.ts');
      process.stdout.write(renderTree(outline, { colour: useColour(process.stdout) }));
    }
    if (report.verdict.failure !== null) process.stderr.write(`modelgate: ${report.verdict.failure.code}: ${report.verdict.failure.message}\n`);
    process.exitCode = exitCodeOf(result);
  });
}
