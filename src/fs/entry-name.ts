/**
 * The one rule for file names that modelgate publishes, packs or records: what a name must be to
 * become a file on the serving side and to be shown safely in a log.
 *
 * Owns: `entryNameProblem` (why a relative path is refused, or undefined), `decodeEntryName` (the
 * strict UTF-8 decoding of a name read from disk) and `escapeName` (a name made printable for
 * messages). Callers wrap the problem in their own coded error: the init extractor and ModelPack raw
 * layers (`UNSAFE_ENTRY`), `push` (`BAD_MODEL_DIRECTORY`), `dataset manifest` (`BAD_PATH`).
 * The rules (README "Extraction rules"), per `/`-separated component after `.` and empty components
 * are dropped:
 *  - no C0 control character (U+0000–U+001F), no DEL (U+007F), no C1 control (U+0080–U+009F);
 *  - valid UTF-8: no lone surrogate, and no U+FFFD (what an undecodable byte becomes when an archive
 *    name is decoded, so a non-UTF-8 name cannot slip through as a replacement character);
 *  - not `..`; at most 255 bytes (UTF-8) per component, 4096 bytes for the whole path;
 *  - the path is not empty (it must name something below the root).
 */

/** Longest component, in UTF-8 bytes (NAME_MAX of Linux file systems). */
export const MAX_COMPONENT_BYTES = 255;
/** Longest relative path, in UTF-8 bytes (PATH_MAX). */
export const MAX_PATH_BYTES = 4096;

// C0, DEL, C1, and U+FFFD.
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\ufffd]/u;

/** `name` with control characters and undecodable bytes shown as `\xNN` / `\u{…}` escapes, quoted. */
export function escapeName(name: string): string {
  let out = '';
  for (const char of name) {
    const code = char.codePointAt(0)!;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code === 0xfffd || (code >= 0xd800 && code <= 0xdfff)) out += `\\u{${code.toString(16)}}`;
    else if (char === '"' || char === '\\') out += `\\${char}`;
    else out += char;
  }
  return `"${out}"`;
}

/** Why the characters or lengths of `path` cannot be published (not its `..`/absolute shape), or undefined. */
export function characterProblem(path: string): string | undefined {
  if (!path.isWellFormed()) return 'is not valid UTF-8 (a lone surrogate)';
  if (FORBIDDEN.test(path)) return path.includes('\ufffd') ? 'is not valid UTF-8 (or holds U+FFFD)' : 'contains a control character';
  const components = path.split('/');
  if (components.some((c) => Buffer.byteLength(c, 'utf8') > MAX_COMPONENT_BYTES)) return `has a component longer than ${MAX_COMPONENT_BYTES} bytes`;
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  return undefined;
}

/**
 * Why the relative path `path` cannot be published, or undefined when it can. `.` and empty
 * components are ignored (`a//./b` is `a/b`); an absolute path is refused.
 */
export function entryNameProblem(path: string): string | undefined {
  const characters = characterProblem(path);
  if (characters !== undefined) return characters;
  if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path)) return 'is an absolute path';
  const components = path.split('/').filter((c) => c !== '' && c !== '.');
  if (components.length === 0) return 'names no file (empty or "." after normalisation)';
  if (components.includes('..')) return 'contains ".."';
  return undefined;
}

/** The normalised form of an accepted path (`.` and empty components dropped). */
export function normalisedEntryName(path: string): string {
  return path
    .split('/')
    .filter((c) => c !== '' && c !== '.')
    .join('/');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A name read from disk as bytes, decoded as strict UTF-8; undefined when it is not UTF-8. */
export function decodeEntryName(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}
