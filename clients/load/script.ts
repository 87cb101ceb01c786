import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EvalStatsFrame } from '../../protocol/messages';

/**
 * What a load run sends: per-session setup code, the code of each eval, and
 * an optional check on each result. From a script: pass a `LoadScript` to
 * `runLoad`. From the command line: `--code`/`--setup`, or `--file` (below).
 */

/** Where a session is in the run: handed to code and setup functions and to `check`. */
export interface SessionContext {
  /** The slot of this session in the run, 0 .. sessions-1 (a replacement session keeps its slot). */
  readonly session: number;
  /** The session id from the gateway's `hello`. */
  readonly sessionId: string;
}

export interface EvalContext extends SessionContext {
  /** How many evals this session has sent before this one (setup excluded). */
  readonly iteration: number;
}

/** A successful eval, as `check` sees it. */
export interface EvalResult {
  /** The result value rebuilt from its wire encoding (bigints, dates, maps... as in the session). */
  readonly value: unknown;
  /** The `value` field as it came over the wire (JSON). */
  readonly wire: unknown;
  /** The result as the Node REPL prints it. */
  readonly text: string;
  readonly stats: EvalStatsFrame;
  /** Console output of the eval (`log` frames with its id), in order. */
  readonly logs: readonly string[];
}

/**
 * A check passes when it returns (or resolves to) `undefined` or `true`.
 * `false`, a string (the reason), or a throw counts the eval as a
 * `CHECK_FAILED` error.
 */
export type Check = (result: EvalResult, context: EvalContext) => unknown;

export type CodeSource = string | readonly string[] | ((context: EvalContext) => string);
export type SetupSource = string | readonly string[] | ((context: SessionContext) => string | readonly string[]);

export interface LoadScript {
  /** Evaluated once per session, in order, after `hello` and before the measured evals. */
  readonly setup?: SetupSource;
  /** The code of each eval: one string, a list taken in turn, or a function of the context. */
  readonly code: CodeSource;
  readonly check?: Check;
}

/** The line that starts an eval script in a plain script file. */
export const EVAL_MARKER = /^[ \t]*\/\/[ \t]*---[ \t]*eval[ \t]*---[ \t]*$/;
/** An optional line that marks where the setup starts (readability only). */
export const SETUP_MARKER = /^[ \t]*\/\/[ \t]*---[ \t]*setup[ \t]*---[ \t]*$/;

/**
 * Parses a plain script file: without an `// --- eval ---` line, the whole
 * file is the code of every eval; with them, what comes before the first one
 * is the setup (an optional `// --- setup ---` line may head it) and each
 * `// --- eval ---` starts one eval script (several are run in turn).
 */
export function parsePlainScript(text: string, name = 'script'): LoadScript {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const sections: string[][] = [[]];
  for (const line of lines) {
    if (EVAL_MARKER.test(line)) sections.push([]);
    else if (!SETUP_MARKER.test(line)) (sections[sections.length - 1] as string[]).push(line);
  }
  const texts = sections.map((section) => section.join('\n').trim());
  if (texts.length === 1) {
    if (texts[0] === '') throw new Error(`${name}: the script is empty`);
    return { code: texts[0] as string };
  }
  const [setup, ...evals] = texts as [string, ...string[]];
  if (evals.some((code) => code === '')) throw new Error(`${name}: an "// --- eval ---" section is empty`);
  return setup === '' ? { code: evals } : { setup, code: evals };
}

/**
 * Loads `--file`: `.mjs` and `.cjs` files are modules run in the load tool
 * itself (trusted local code) exporting a `LoadScript` (`setup`, `code`,
 * `check`), as named exports or as the default export; any other file is
 * session code in the plain format of `parsePlainScript`.
 */
export async function loadScriptFile(file: string): Promise<LoadScript> {
  const absolute = path.resolve(file);
  const ext = path.extname(absolute).toLowerCase();
  if (ext !== '.mjs' && ext !== '.cjs') {
    let text: string;
    try {
      text = readFileSync(absolute, 'utf8');
    } catch (error) {
      throw new Error(`cannot read ${file}: ${(error as Error).message}`);
    }
    return parsePlainScript(text, file);
  }
  let loaded: Record<string, unknown>;
  try {
    loaded =
      ext === '.cjs'
        ? (createRequire(absolute)(absolute) as Record<string, unknown>)
        : await importModule()(pathToFileURL(absolute).href);
  } catch (error) {
    throw new Error(`cannot load ${file}: ${(error as Error).message}`);
  }
  const exported = (loaded.code === undefined && isObject(loaded.default) ? loaded.default : loaded) as Record<
    string,
    unknown
  >;
  return validateScript({ setup: exported.setup, code: exported.code, check: exported.check }, file);
}

/** Throws a plain message when a script's parts have the wrong types. */
export function validateScript(script: Record<string, unknown>, name = 'script'): LoadScript {
  const { setup, code, check } = script;
  const isCodeList = (value: unknown) =>
    Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string' && item.trim() !== '');
  if (!(typeof code === 'function' || (typeof code === 'string' && code.trim() !== '') || isCodeList(code))) {
    throw new Error(`${name}: "code" must be a non-empty string, a non-empty array of strings, or a function`);
  }
  if (!(setup === undefined || typeof setup === 'function' || typeof setup === 'string' || isCodeList(setup))) {
    throw new Error(`${name}: "setup" must be a string, an array of strings, or a function`);
  }
  if (!(check === undefined || typeof check === 'function')) throw new Error(`${name}: "check" must be a function`);
  return { setup, code, check } as LoadScript;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * A real `import()`: this file is compiled to CommonJS, where the compiler
 * would turn a literal `import()` into `require()`, which cannot load ES
 * modules in Node 20. Built on first use only.
 */
function importModule(): (specifier: string) => Promise<Record<string, unknown>> {
  return new Function('specifier', 'return import(specifier)') as (
    specifier: string,
  ) => Promise<Record<string, unknown>>;
}
