import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as acorn from 'acorn';
import { StartError } from '../common/start-error';
import {
  MODULE_DEFAULT_LOCAL,
  MODULE_PROGRESS_MARKER,
  RESERVED_IDENTIFIER_PREFIX,
  SharedRealm,
  SharedRealmError,
  type SharedValue,
} from './shared-realm';

export type { SharedValue } from './shared-realm';

export type SharedStateFormat = 'json' | 'module';

/** One loaded version of the shared state. `value` is the same object in every session it is given to. */
export interface SharedState {
  /** Opaque reference into the shared realm: inject it as `shared`, never read it on the host. */
  readonly value: SharedValue;
  /** First 16 hex digits of the SHA-256 of the file's bytes. */
  readonly version: string;
  /** Absolute path of the file. */
  readonly file: string;
  /** Size of the file in bytes. */
  readonly bytes: number;
  readonly loadedAt: Date;
  readonly format: SharedStateFormat;
}

/**
 * - `SHARED_STATE_UNREADABLE`: the file could not be read.
 * - `SHARED_STATE_INVALID`: the file was read but is not acceptable shared state
 *   (bad UTF-8 or JSON, syntax error, forbidden import, a throw or timeout while
 *   evaluating, a value that cannot be frozen).
 * - `SHARED_STATE_INTERNAL`: the shared realm itself could not be set up (not the file's fault).
 */
export type SharedStateErrorCode = 'SHARED_STATE_UNREADABLE' | 'SHARED_STATE_INVALID' | 'SHARED_STATE_INTERNAL';

/** Thrown by {@link loadSharedState}; `message` is one line and names the file. */
export class SharedStateError extends StartError {
  declare readonly code: SharedStateErrorCode;
  constructor(
    code: SharedStateErrorCode,
    readonly file: string,
    message: string,
  ) {
    super(code, oneLine(message));
  }
}

export interface LoadSharedStateOptions {
  /** CPU budget for each step inside the shared realm (lockdown, parse/evaluate + freeze). Default 30 s. */
  readonly timeoutMs?: number;
  /** Overrides the format implied by the extension (`.json` → json, `.js`/`.mjs` → module). */
  readonly format?: SharedStateFormat;
}

/** A shared-state file read from disk but not yet evaluated. */
export interface SharedStateSource {
  readonly file: string;
  /** The path as the caller spelled it, for messages. */
  readonly displayName: string;
  readonly data: Buffer;
  readonly version: string;
  readonly format: SharedStateFormat;
}

/**
 * Loads a shared-state file into a fresh, locked-down shared realm and returns
 * its deep-frozen value as an opaque reference.
 *
 * - `.json`: parsed by the realm's own `JSON.parse`, then every object frozen.
 * - `.js` / `.mjs`: an ES module without imports, evaluated inside the realm
 *   (strict, no host access, no code generation). Its value is the default
 *   export if there is one (named exports are then ignored), else an object of
 *   the named exports (null prototype, like a module namespace). Helpers may
 *   be functions, but shared code must be **synchronous** and should be
 *   **pure**: async functions, promises, Maps, Sets, Dates, typed arrays and
 *   iterators reachable from the value are rejected (freezing cannot protect
 *   their internal state), and state a helper keeps in its closure is visible
 *   to every session, so keep it to caches of immutable data.
 *
 * @throws {SharedStateError}
 */
export function loadSharedState(file: string, options: LoadSharedStateOptions = {}): SharedState {
  return evaluateSharedStateSource(readSharedStateSource(file, options), options);
}

/** Reads the file and computes its version, without evaluating it. */
export function readSharedStateSource(file: string, options: LoadSharedStateOptions = {}): SharedStateSource {
  const absolute = path.resolve(file);
  const format = options.format ?? formatOf(file);
  let data: Buffer;
  try {
    data = readFileSync(absolute);
  } catch (err) {
    throw new SharedStateError(
      'SHARED_STATE_UNREADABLE',
      absolute,
      `${file}: cannot read shared state: ${describe(err).replace(/, \w+ '.*'$/, '')}`,
    );
  }
  const version = createHash('sha256').update(data).digest('hex').slice(0, 16);
  return { file: absolute, displayName: file, data, version, format };
}

/** Evaluates a source read by {@link readSharedStateSource} in a new shared realm. */
export function evaluateSharedStateSource(
  source: SharedStateSource,
  options: LoadSharedStateOptions = {},
): SharedState {
  const { displayName, file, format } = source;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(source.data);
  } catch (err) {
    const invalid = (err as { code?: unknown } | null)?.code === 'ERR_ENCODING_INVALID_ENCODED_DATA';
    throw new SharedStateError(
      'SHARED_STATE_INVALID',
      file,
      invalid ? `${displayName}: not valid UTF-8` : `${displayName}: cannot decode as text: ${describe(err)}`,
    );
  }
  const transformed = format === 'module' ? transformSharedModule(text, displayName) : undefined;

  let realm: SharedRealm;
  try {
    realm = SharedRealm.create(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
  } catch (err) {
    throw new SharedStateError(
      'SHARED_STATE_INTERNAL',
      file,
      `${displayName}: cannot set up the shared realm: ${describe(err)}`,
    );
  }

  let value: SharedValue;
  try {
    value =
      transformed === undefined
        ? realm.parseJson(text)
        : realm.evaluateModule(transformed.body, transformed.returnStatement, transformed.statementLines, file);
  } catch (err) {
    if (!(err instanceof SharedRealmError)) throw err;
    const code = err.reason === 'setup' ? 'SHARED_STATE_INTERNAL' : 'SHARED_STATE_INVALID';
    const where = format === 'json' ? jsonLocation(text, err.message) : '';
    throw new SharedStateError(code, file, `${displayName}${where}: ${err.message}${moduleHint(format, err.message)}`);
  }

  return Object.freeze({
    value,
    version: source.version,
    file,
    bytes: source.data.byteLength,
    loadedAt: new Date(),
    format,
  });
}

function formatOf(file: string): SharedStateFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.js' || ext === '.mjs') return 'module';
  throw new SharedStateError(
    'SHARED_STATE_INVALID',
    path.resolve(file),
    `${file}: unsupported shared state file type '${ext}' (expected .json, .js or .mjs)`,
  );
}

/** `JSON.parse` reports "at position N"; turn it into `:line:column`. */
function jsonLocation(text: string, message: string): string {
  const match = /at position (\d+)/.exec(message);
  if (match === null) return '';
  const position = Math.min(Number(match[1]), text.length);
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < position; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `:${line}:${position - lineStart + 1}`;
}

function moduleHint(format: SharedStateFormat, message: string): string {
  if (format === 'module' && /\b(module|exports|require) is not defined\b/.test(message)) {
    return ' (shared state modules use ES module syntax: export default …, without imports)';
  }
  return '';
}

// ---------------------------------------------------------------------------
// Module transform: ES module text → plain statements run as a function body.

/** The module's statements, with lines kept, and the statement that returns its exports. */
export interface TransformedModule {
  readonly body: string;
  readonly returnStatement: string;
  /** The line of each top-level statement, in order (the n-th follows the n-th progress marker). */
  readonly statementLines: readonly number[];
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

const NO_ACCESS = 'shared state runs without access to modules or the host';

/**
 * Parses `source` as an ES module (acorn, `ecmaVersion: 'latest'`) and
 * rewrites it into statements for a strict function body:
 * - `import` declarations, `import()`, `import.meta`, re-exports (`export … from`),
 *   top-level `await`, HTML-like comments and identifiers starting with
 *   `__vmgate` are rejected with `file:line:col`;
 * - `export` keywords are dropped from declarations, `export { a, b as c }`
 *   is blanked out, and `export default <expr>` becomes a local;
 * - each top-level statement is preceded by a progress marker, so a throw
 *   while evaluating can name its line.
 * Line numbers of the original are preserved.
 *
 * @throws {SharedStateError} `SHARED_STATE_INVALID`
 */
export function transformSharedModule(source: string, file: string): TransformedModule {
  const tokens: acorn.Token[] = [];
  let program: acorn.Program;
  try {
    program = acorn.parse(source, {
      ecmaVersion: 'latest',
      sourceType: 'module',
      locations: true,
      preserveParens: true,
      allowHashBang: true,
      onToken: tokens,
    });
  } catch (err) {
    const loc = (err as { loc?: acorn.Position }).loc;
    const message = describe(err).replace(/\s*\(\d+:\d+\)$/, '');
    const where = loc ? `:${loc.line}:${loc.column + 1}` : '';
    throw new SharedStateError('SHARED_STATE_INVALID', path.resolve(file), `${file}${where}: syntax error: ${message}`);
  }

  const reject = (node: acorn.Node | acorn.Token, what: string): never => {
    const loc = node.loc?.start;
    const where = loc ? `:${loc.line}:${loc.column + 1}` : '';
    throw new SharedStateError('SHARED_STATE_INVALID', path.resolve(file), `${file}${where}: ${what}`);
  };

  checkHtmlComments(source, tokens, reject);
  checkForbidden(program, reject);

  const edits: Edit[] = [];
  const exported: Array<[name: string, local: string]> = [];
  let defaultLocal: string | undefined;
  const addExport = (name: string, local: string): void => {
    if (name === 'default') defaultLocal = local;
    else exported.push([name, local]);
  };

  if (source.startsWith('#!')) {
    const end = source.indexOf('\n') === -1 ? source.length : source.indexOf('\n');
    edits.push({ start: 0, end, text: '' });
  }

  const statementLines: number[] = [];
  const marker = `;${MODULE_PROGRESS_MARKER}`;
  for (const statement of program.body) {
    statementLines.push(statement.loc?.start.line ?? 0);
    const replace = (start: number, end: number, text: string): void => {
      edits.push({ start, end, text: text + newlines(source.slice(start, end)) });
    };
    switch (statement.type) {
      case 'ExportNamedDeclaration': {
        const declaration = statement.declaration;
        if (declaration) {
          replace(statement.start, declaration.start, marker);
          if (declaration.type === 'VariableDeclaration') {
            for (const declarator of declaration.declarations) {
              for (const name of boundNames(declarator.id)) addExport(name, name);
            }
          } else {
            addExport(declaration.id.name, declaration.id.name);
          }
        } else {
          replace(statement.start, statement.end, marker);
          for (const specifier of statement.specifiers) {
            addExport(moduleExportName(specifier.exported), moduleExportName(specifier.local));
          }
        }
        break;
      }
      case 'ExportDefaultDeclaration': {
        const declaration = statement.declaration;
        if ((declaration.type === 'FunctionDeclaration' || declaration.type === 'ClassDeclaration') && declaration.id) {
          replace(statement.start, declaration.start, marker);
          addExport('default', declaration.id.name);
        } else {
          // `{ default: <expr> }.default` gives an anonymous function or class the name "default", as ES modules do.
          replace(statement.start, declaration.start, `${marker}const ${MODULE_DEFAULT_LOCAL} = { default: `);
          edits.push({ start: declaration.end, end: declaration.end, text: ' }.default;' });
          addExport('default', MODULE_DEFAULT_LOCAL);
        }
        break;
      }
      default:
        edits.push({ start: statement.start, end: statement.start, text: marker });
    }
  }

  const entries = exported.map(([name, local]) => `[${JSON.stringify(name)}, ${local}]`).join(', ');
  const returnStatement =
    defaultLocal === undefined ? `return [false, void 0, [${entries}]];` : `return [true, ${defaultLocal}, []];`;
  return { body: applyEdits(source, edits), returnStatement, statementLines };
}

/**
 * Annex B HTML-like comments are operators in a module but comments in the
 * script we run: `a <!--b` means `a < !(--b)` in a module and `a` in a
 * script. Reject `<!--` rather than let the two readings differ. (`-->` can
 * only be a comment at the start of a line, where it is a syntax error in a
 * module, so acorn has already refused it.)
 */
function checkHtmlComments(
  source: string,
  tokens: acorn.Token[],
  reject: (t: acorn.Token, what: string) => never,
): void {
  for (const token of tokens) {
    // A `<` token followed directly by `!--` (inside strings, comments and regexps there are no tokens).
    if (token.end === token.start + 1 && source.startsWith('<!--', token.start)) {
      reject(token, 'HTML-like comments (<!--) are not allowed in shared state modules');
    }
  }
}

function checkForbidden(program: acorn.Program, reject: (node: acorn.Node, what: string) => never): void {
  const stack: Array<[node: acorn.Node, inFunction: boolean]> = [[program, false]];
  while (stack.length > 0) {
    const [node, inFunction] = stack.pop()!;
    switch (node.type) {
      case 'ImportDeclaration':
        reject(node, `import declarations are not allowed: ${NO_ACCESS}`);
        break;
      case 'ImportExpression':
        reject(node, `dynamic import() is not allowed: ${NO_ACCESS}`);
        break;
      case 'MetaProperty':
        if ((node as acorn.MetaProperty).meta.name === 'import')
          reject(node, `import.meta is not allowed: ${NO_ACCESS}`);
        break;
      case 'ExportAllDeclaration':
        reject(node, `re-exporting from another module is not allowed: ${NO_ACCESS}`);
        break;
      case 'ExportNamedDeclaration':
        if ((node as acorn.ExportNamedDeclaration).source) {
          reject(node, `re-exporting from another module is not allowed: ${NO_ACCESS}`);
        }
        break;
      case 'AwaitExpression':
        if (!inFunction) reject(node, 'top-level await is not allowed: shared code must be synchronous');
        break;
      case 'ForOfStatement':
        if ((node as acorn.ForOfStatement).await && !inFunction) {
          reject(node, 'top-level for await is not allowed: shared code must be synchronous');
        }
        break;
      case 'Identifier':
        if ((node as acorn.Identifier).name.startsWith(RESERVED_IDENTIFIER_PREFIX)) {
          reject(node, `identifiers starting with ${RESERVED_IDENTIFIER_PREFIX} are reserved`);
        }
        break;
    }
    const childInFunction =
      inFunction ||
      node.type === 'FunctionDeclaration' ||
      node.type === 'FunctionExpression' ||
      node.type === 'ArrowFunctionExpression';
    for (const [key, value] of Object.entries(node)) {
      if (key === 'loc' || key === 'range') continue;
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) {
          if (isNode(value[i])) stack.push([value[i], childInFunction]);
        }
      } else if (isNode(value)) {
        stack.push([value, childInFunction]);
      }
    }
  }
}

function isNode(value: unknown): value is acorn.Node {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

function boundNames(pattern: acorn.Pattern): string[] {
  const names: string[] = [];
  const pending: acorn.Pattern[] = [pattern];
  while (pending.length > 0) {
    const p = pending.pop()!;
    switch (p.type) {
      case 'Identifier':
        names.push(p.name);
        break;
      case 'ObjectPattern':
        for (const property of p.properties) {
          pending.push(property.type === 'RestElement' ? property.argument : property.value);
        }
        break;
      case 'ArrayPattern':
        for (const element of p.elements) if (element) pending.push(element);
        break;
      case 'RestElement':
        pending.push(p.argument);
        break;
      case 'AssignmentPattern':
        pending.push(p.left);
        break;
      default:
        // MemberExpression patterns only occur in assignments, not declarations.
        break;
    }
  }
  return names;
}

function moduleExportName(node: acorn.Identifier | acorn.Literal): string {
  return node.type === 'Identifier' ? node.name : String(node.value);
}

/** The line breaks of `text`, so replaced text keeps every following line where it was. */
function newlines(text: string): string {
  return text.replace(/[^\n]/g, '');
}

function applyEdits(source: string, edits: Edit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let at = 0;
  for (const edit of sorted) {
    out += source.slice(at, edit.start) + edit.text;
    at = edit.end;
  }
  return out + source.slice(at);
}

/** Message of a host error (fs, acorn, our own); errors may come from another host realm, e.g. under jest. */
function describe(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(err);
}

function oneLine(message: string): string {
  return message.replace(/\s*[\r\n\u2028\u2029]+\s*/g, ' ').trim();
}
