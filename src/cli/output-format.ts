/**
 * The one `-o, --output <format>` option of every command that prints a result: `text` (for people)
 * or `json` (one JSON document on stdout, for scripts).
 *
 * Owns: the option's spelling, its accepted values and their normalisation. Older spellings keep
 * working: `table` and `tree` (what `verify`, `inspect`, `policy eval` and `explain` called their text
 * output) mean `text`, and commands that had `--json` keep it as an alias of `-o json`
 * (`withJsonAlias`). An unknown value is a one-line usage error naming the accepted ones.
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
