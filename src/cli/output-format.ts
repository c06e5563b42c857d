/**
 * The one `-o, --output <format>` option of every command that prints a result: `text` (for people)
 * or `json` (one JSON document on stdout, for scripts).
 *
 * Owns: the option's spelling, its accepted values and their normalisation. Older spellings keep
 * working: `table` and `tree` (what `verify`, `inspect`, `policy eval` and `explain` called their text
 * output) mean `text`, and commands that had `--json` keep it as an alias of `-o json`
 * (`withJsonAlias`). An unknown value is a one-line usage error naming the accepted ones. Commands
 * where `-o FILE` once named the file they write (`dataset manifest`, `dataset attest`, `attest
 * evaluate`) now take cosign's `--output-file FILE`; there a value other than a format is refused with
 * a usage error pointing at `--output-file`, never taken as a file (`fileWritingOutputOption`).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';

export type OutputFormat = 'text' | 'json';

const ALIASES: Readonly<Record<string, OutputFormat>> = { text: 'text', json: 'json', table: 'text', tree: 'text' };

export function parseOutputFormat(value: string): OutputFormat {
  const format = ALIASES[value];
  if (format === undefined) throw new InvalidArgumentError(`expected text or json, got ${JSON.stringify(value)}.`);
  return format;
}

/** `-o, --output <format>`: text (default) or json. */
export function outputOption(description = 'output format: text or json'): Option {
  return new Option('-o, --output <format>', description).argParser(parseOutputFormat).default('text');
}

/**
 * `-o, --output <format>` for a command whose `-o FILE` became `--output-file FILE`: a value that is
 * not a format (`-o out.json`) is a one-line usage error saying to use `--output-file`.
 */
export function fileWritingOutputOption(description = 'output format: text or json'): Option {
  return new Option('-o, --output <format>', description)
    .argParser((value: string) => {
      if (ALIASES[value] === undefined) throw new InvalidArgumentError(`expected text or json, got ${JSON.stringify(value)}; to write to a file, use --output-file ${value}.`);
      return parseOutputFormat(value);
    })
    .default('text');
}

/** `--output-file <file>`: where a file-writing command writes its result (cosign's name; `-o FILE` before). */
export function outputFileOption(description: string): Option {
  return new Option('--output-file <file>', description);
}

/** `--json`, kept where a command had it: the same as `-o json` (an explicit `-o` wins). */
export function jsonAliasOption(): Option {
  return new Option('--json', 'the same as -o json').implies({ output: 'json' });
}

/** Add `-o, --output` and, for commands that already had it, `--json`. */
export function addOutputOption(command: Command, options: { readonly jsonAlias?: boolean; readonly description?: string } = {}): Command {
  command.addOption(outputOption(options.description));
  if (options.jsonAlias === true) command.addOption(jsonAliasOption());
  return command;
}
