import * as acorn from 'acorn';
import * as walk from 'acorn-walk';
import { errors, VmgateError } from '../protocol/error-codes';
import { checkSyntax, excerptAt, lineStarts, type V8SyntaxError } from './syntax-check';

/**
 * Turns one console input into a script with REPL semantics (docs/design.md §3):
 *
 * - every top-level declaration (`var`, `let`, `const`, `function`, `class`)
 *   becomes a property of the realm's global object, so bindings persist
 *   across evals and a later eval may declare the same name again, as a
 *   browser console allows (`const` stays read-only until redeclared);
 * - the completion value of the input is captured into a local and returned;
 * - input with top-level `await` runs as an async function;
 * - a function declared in a block in sloppy code is also a global var
 *   (Annex B), as it would be in a script.
 *
 * The whole input is wrapped in one function handed to the realm's
 * `__vmgate.r`, so the realm (not the host) receives and renders the value.
 * The output depends on the input text alone (the realm learns which eval it
 * is from the host), so it can be compiled once and reused: input-cache.ts.
 * Dynamic `import()` and `import.meta` are rejected here, on the exact text
 * handed to V8: on Node 20 their failure would surface a host-realm error.
 * V8 judges the user's text before acorn does (syntax-check.ts), so syntax
 * errors carry V8's message and position, as in the Node REPL.
 */

export interface TransformedInput {
  /** The script source to compile with `vm.Script`. */
  readonly source: string;
  /** Maps a 1-based (line, column) of `source` back to the user's text, for stack frames. */
  readonly originalPosition: (line: number, column: number) => readonly [number, number] | undefined;
  readonly isAsync: boolean;
  /** The input mentions `db` or `sql`: the host loads Kysely into the realm first. */
  readonly usesDatabase: boolean;
}

const COMPLETION = '$__vmgate_c';
const API = '__vmgate';

type Node = acorn.Node & Record<string, unknown>;
type Edit = { readonly at: number; readonly end: number; readonly text: string; readonly order: number };

const PARSE_OPTIONS: acorn.Options = {
  ecmaVersion: 'latest',
  sourceType: 'script',
  allowAwaitOutsideFunction: true,
  allowHashBang: false,
  locations: true,
  // So `({ a: 1 })` wraps as a whole, parentheses included.
  preserveParens: true,
};

export function transformInput(code: string): TransformedInput {
  const program = parseInput(code);
  const { source, isAsync, anchors } = rewrite(code, program);
  // The text handed to V8 is what must be free of import(); a quick substring
  // test avoids a second parse in the common case.
  if (source.includes('import')) assertNoImport(parseOrInternal(source), undefined);
  return {
    source,
    originalPosition: positionMapper(code, source, anchors),
    isAsync,
    usesDatabase: mentionsDatabase(program),
  };
}

function parseInput(code: string): acorn.Program {
  // `{ a: 1 }` typed alone is an object literal in a console, not a block.
  const trimmed = code.trim();
  if (trimmed.startsWith('{') && !trimmed.endsWith(';')) {
    try {
      const wrapped = acorn.parse(`(${code}\n)`, PARSE_OPTIONS);
      if (wrapped.body.length === 1 && wrapped.body[0]?.type === 'ExpressionStatement') {
        return shiftProgram(wrapped, code);
      }
    } catch {
      // not an expression: parse as statements below
    }
  }
  // The parser behind the transform goes first: text it accepts is compiled
  // once, after the transform, and only a refusal there asks V8 about the
  // user's own text (rejectedOutput). Text it refuses is V8's to judge: its
  // message and position are what Node prints.
  let refusal: unknown;
  try {
    const program = acorn.parse(code, PARSE_OPTIONS);
    assertNoImport(program, code);
    return program;
  } catch (err) {
    if (err instanceof VmgateError) throw err;
    refusal = err;
  }
  const verdict = checkSyntax(code);
  if (verdict.kind === 'error') throw fromV8(verdict.error);
  // Fine for V8 only as an async function body (e.g. `await 1; return 2`):
  // the script's complaint stands, as in the Node REPL.
  if (verdict.kind === 'async') {
    const scriptError = verdict.scriptError();
    if (scriptError) throw fromV8(scriptError);
  }
  throw toSyntaxError(refusal, code);
}

/**
 * Why V8 refused the transform's output: its complaint about the user's own
 * text when it has one (an object literal typed alone is checked only after
 * the transform), else a transform bug, never the user's fault.
 */
export function rejectedOutput(code: string): VmgateError {
  const verdict = checkSyntax(code);
  if (verdict.kind === 'error') return fromV8(verdict.error);
  return errors.internal('the input could not be compiled after the REPL transform');
}

/** V8's complaint about the user's text, as a SYNTAX_ERROR. */
export function fromV8(error: V8SyntaxError): VmgateError {
  return errors.syntax(error.message, error.line, error.column, error.excerpt);
}

/** Re-parses an object-literal input as `(<code>)` keeping offsets into the original text. */
function shiftProgram(_wrapped: acorn.Program, code: string): acorn.Program {
  // Offsets of the wrapped parse are off by one; simplest is to parse the
  // expression alone at its original offsets.
  const expression = acorn.parseExpressionAt(code, code.indexOf('{'), PARSE_OPTIONS);
  const statement = {
    type: 'ExpressionStatement',
    start: expression.start,
    end: expression.end,
    expression,
  } as unknown as acorn.Statement;
  const program = { type: 'Program', start: 0, end: code.length, body: [statement], sourceType: 'script' };
  assertNoImport(program as unknown as acorn.Program, code);
  return program as unknown as acorn.Program;
}

function parseOrInternal(source: string): acorn.Program {
  try {
    return acorn.parse(source, PARSE_OPTIONS);
  } catch {
    // Our own output failed to parse: a transform bug, never the user's fault.
    throw errors.internal('input transform produced invalid code');
  }
}

function assertNoImport(program: acorn.Program, code: string | undefined): void {
  walk.full(program, (node) => {
    if (node.type === 'ImportExpression') {
      throw errors.syntax('dynamic import() is not available in a session', ...position(node, code));
    }
    if (node.type === 'MetaProperty' && (node as acorn.MetaProperty).meta.name === 'import') {
      throw errors.syntax('import.meta is not available in a session', ...position(node, code));
    }
  });
}

function position(node: acorn.Node, code: string | undefined): [number, number, string?] {
  const line = node.loc?.start.line ?? 1;
  const column = (node.loc?.start.column ?? 0) + 1;
  return code === undefined ? [line, column] : [line, column, excerptAt(code, line, column)];
}

function toSyntaxError(err: unknown, code: string): VmgateError {
  if (err instanceof SyntaxError && 'loc' in err) {
    const loc = (err as SyntaxError & { loc: { line: number; column: number } }).loc;
    const message = err.message.replace(/ \(\d+:\d+\)$/, '');
    return errors.syntax(message, loc.line, loc.column + 1, excerptAt(code, loc.line, loc.column + 1));
  }
  return errors.syntax(String(err), 1, 1);
}

// ---------------------------------------------------------------------------

function rewrite(code: string, program: acorn.Program) {
  const edits: Edit[] = [];
  let order = 0;
  const insert = (at: number, text: string) => edits.push({ at, end: at, text, order: order++ });
  const replace = (at: number, end: number, text: string) => edits.push({ at, end, text, order: order++ });

  const hoistedFunctions: string[] = [];
  // A leading "use strict" directive makes this input strict, as in the Node REPL.
  const first = program.body[0] as (acorn.Node & { directive?: string }) | undefined;
  const strict = first?.type === 'ExpressionStatement' && first.directive === 'use strict';
  const varNames = new Set<string>();
  const isAsync = hasTopLevelAwait(program);

  // Lexical names in scope at each nesting level, for Annex B's rule (a
  // block function is also a var only where a `var` of its name would be legal).
  const topLexical = lexicalNames(program.body, false);
  type Scopes = readonly ReadonlySet<string>[];

  const visitStatements = (statements: readonly acorn.Node[], topLevel: boolean, scopes: Scopes) => {
    for (const statement of statements) visitStatement(statement as Node, topLevel, scopes);
  };
  /**
   * Visits a block's statements. `open`/`close` are where a blocker can go
   * around them: inside the wrapper function, V8 would apply Annex B itself
   * and make a block function a *local* var of the wrapper, shadowing the
   * global binding for the whole input. A `let` of the same name in an
   * enclosing block makes that hoisting an early-error case, so V8 skips it
   * (B.3.3), and the rewrite below publishes the var binding instead.
   */
  const visitBlock = (statements: readonly acorn.Node[], scopes: Scopes, open: number, close: number) => {
    const blocked = strict ? [] : sloppyBlockFunctions(statements);
    if (blocked.length > 0) insert(open, ` let ${blocked.join(', ')}; {`);
    visitStatements(statements, false, [...scopes, lexicalNames(statements, true)]);
    if (blocked.length > 0) insert(close, '} ');
  };

  const visitStatement = (node: Node, topLevel: boolean, scopes: Scopes, inList = true): void => {
    switch (node.type) {
      case 'ExpressionStatement': {
        const expression = node.expression as acorn.Node;
        // Parenthesized, so the completion of `a, b` is `b` (an assignment
        // binds tighter than the comma operator).
        insert(expression.start, `(${COMPLETION} = (`);
        insert(expression.end, '))');
        // Keep the statement terminated exactly once (an extra `;` would end an
        // `if` before its `else`).
        if (code[node.end - 1] !== ';') insert(node.end, ';');
        return;
      }
      case 'VariableDeclaration':
        rewriteDeclaration(node as unknown as acorn.VariableDeclaration, topLevel, 'statement');
        return;
      case 'FunctionDeclaration': {
        const name = (node.id as acorn.Identifier).name;
        // Stays a declaration inside the wrapper (so it is hoisted as usual) and
        // is published as a global at the top of the wrapper.
        if (topLevel) {
          hoistedFunctions.push(name);
          return;
        }
        // Annex B.3.3: in sloppy code a plain function declared in a block is
        // also a var of the enclosing script, assigned when the declaration is
        // reached; V8 gives that step the function as its completion value.
        const blockScopes = inList ? scopes.slice(0, -1) : scopes;
        // (`let` cannot name the blocker: a function called `let` is left to V8.)
        if (strict || node.generator || node.async || name === 'let') return;
        if (topLexical.has(name) || blockScopes.some((scope) => scope.has(name))) {
          if (!inList) {
            insert(node.start, `{ let ${name}; { `);
            insert(node.end, ' } }');
          }
          return;
        }
        varNames.add(name);
        const publish = `${API}.v(${JSON.stringify(name)}, ${name}) && (${COMPLETION} = ${name});`;
        // `if (x) function f() {}` is treated as if braced (Annex B.3.4), with its blocker.
        if (inList) insert(node.end, ` ${publish}`);
        else {
          insert(node.start, `{ let ${name}; { `);
          insert(node.end, ` ${publish} } }`);
        }
        return;
      }
      case 'ClassDeclaration': {
        if (!topLevel) return;
        const name = (node.id as acorn.Identifier).name;
        insert(node.start, `${API}.d(${JSON.stringify([name])}, 'let'); ${name} = `);
        insert(node.end, ';');
        return;
      }
      case 'BlockStatement':
        visitBlock(node.body as acorn.Node[], scopes, node.start + 1, node.end - 1);
        return;
      case 'IfStatement':
        visitStatement(node.consequent as Node, false, scopes, false);
        if (node.alternate) visitStatement(node.alternate as Node, false, scopes, false);
        return;
      case 'ForStatement': {
        const init = node.init as Node | null;
        if (init?.type === 'VariableDeclaration') {
          rewriteDeclaration(init as unknown as acorn.VariableDeclaration, false, 'for-init');
        }
        visitStatement(node.body as Node, false, withHead(scopes, init), false);
        return;
      }
      case 'ForInStatement':
      case 'ForOfStatement':
        if ((node.left as Node).type === 'VariableDeclaration') {
          rewriteDeclaration(node.left as acorn.VariableDeclaration, false, 'for-left');
        }
        visitStatement(node.body as Node, false, withHead(scopes, node.left as Node), false);
        return;
      case 'LabeledStatement':
        // A labelled function at the top level is still a top-level function.
        visitStatement(node.body as Node, topLevel, scopes, false);
        return;
      case 'WhileStatement':
      case 'DoWhileStatement':
      case 'WithStatement':
        visitStatement(node.body as Node, false, scopes, false);
        return;
      case 'TryStatement':
        visitStatement(node.block as Node, false, scopes);
        if (node.handler) {
          const handler = node.handler as Node;
          visitStatement(handler.body as Node, false, withHead(scopes, handler.param as Node | null));
        }
        // A finally block does not contribute to the completion value, but its
        // `var`s are still hoisted.
        if (node.finalizer) visitVarsOnly(node.finalizer as Node);
        return;
      case 'SwitchStatement': {
        // The cases share one scope; the blocker goes around the whole statement
        // (so the discriminant, too, would see it: a name clash left alone).
        const statements = (node.cases as Node[]).flatMap((c) => c.consequent as acorn.Node[]);
        const blocked = strict ? [] : sloppyBlockFunctions(statements);
        if (blocked.length > 0) insert(node.start, `{ let ${blocked.join(', ')}; `);
        const inner = [...scopes, lexicalNames(statements, true)];
        for (const switchCase of node.cases as Node[]) {
          visitStatements(switchCase.consequent as acorn.Node[], false, inner);
        }
        if (blocked.length > 0) insert(node.end, ' }');
        return;
      }
      default:
        return;
    }
  };

  // `var` declared in a block is function-scoped: inside the wrapper it would
  // be local, so it is rewritten to assign the global instead.
  const visitVarsOnly = (node: Node): void => {
    walk.recursive(node, undefined, {
      Function() {},
      Class() {},
      VariableDeclaration(decl) {
        if (decl.kind === 'var') rewriteDeclaration(decl, false, 'statement');
      },
    });
  };

  const rewriteDeclaration = (
    decl: acorn.VariableDeclaration,
    topLevel: boolean,
    position: 'statement' | 'for-init' | 'for-left',
  ): void => {
    const lexical = decl.kind !== 'var';
    // Nested let/const are block-scoped: leave them alone.
    if (lexical && !topLevel) return;
    const names: string[] = [];
    for (const declarator of decl.declarations) collectNames(declarator.id, names);
    if (decl.kind === 'var') for (const name of names) varNames.add(name);

    if (position === 'for-left') {
      // `for (var x of xs)` → `for (x of xs)`
      replace(decl.start, decl.declarations[0]!.start, '');
      return;
    }
    // The user's text stays where it is (so stack positions inside an
    // initializer are the typed ones): `const a = f(), b = 2;` becomes
    // `<declare> (a = f()), (b = 2); <make const>`.
    const first = decl.declarations[0];
    const last = decl.declarations.at(-1);
    if (!first || !last) return;
    const prologue = lexical ? `${API}.d(${JSON.stringify(names)}, 'let'); ` : '';
    replace(decl.start, first.start, position === 'statement' ? prologue : '');
    for (const declarator of decl.declarations) {
      if (declarator.init) {
        insert(declarator.start, '(');
        insert(declarator.end, ')');
      } else {
        const declared: string[] = [];
        collectNames(declarator.id, declared);
        const value = decl.kind === 'let' ? declared.map((name) => `${name} = undefined`).join(', ') : 'void 0';
        replace(declarator.start, declarator.end, `(${value})`);
      }
    }
    if (position !== 'statement') return;
    if (code[decl.end - 1] !== ';') insert(last.end, ';');
    if (decl.kind === 'const') insert(decl.end, ` ${API}.k(${JSON.stringify(names)});`);
  };

  visitStatements(program.body, true, []);

  const header: string[] = [];
  if (varNames.size > 0) header.push(`${API}.d(${JSON.stringify([...varNames])}, 'var');`);
  for (const name of hoistedFunctions) header.push(`${API}.g(${JSON.stringify(name)}, ${name});`);
  // Hoisted functions are published under their global names: a reference to
  // `f` inside this input still resolves to the wrapper-local declaration,
  // which is the same function object.
  const prefix = `${API}.r(${isAsync ? 'async ' : ''}function () { ${strict ? "'use strict'; " : ''}let ${COMPLETION}; ${header.join(' ')}`;
  // An async input returns its value boxed: an async function's return would
  // adopt a promise value, and `await 0; Promise.resolve(1)` is a promise.
  const suffix = `\n; return ${isAsync ? `[${COMPLETION}]` : COMPLETION}; }, ${isAsync});`;
  const body = applyEdits(code, edits, prefix.length);
  return { source: prefix + body.text + suffix, isAsync, anchors: body.anchors };
}

/** A stretch of unchanged user text: where it starts in the output and in the input, and its length. */
type Anchor = readonly [output: number, input: number, length: number];

function applyEdits(code: string, edits: Edit[], base: number): { text: string; anchors: Anchor[] } {
  // Stable order: by position, then by the order edits were made (so an
  // insertion at the end of an inner node precedes the outer node's).
  edits.sort((a, b) => a.at - b.at || a.order - b.order);
  let out = '';
  let cursor = 0;
  const anchors: Anchor[] = [];
  for (const edit of edits) {
    if (edit.at < cursor) continue; // overlapping edit: the outer one won
    anchors.push([base + out.length, cursor, edit.at - cursor]);
    out += code.slice(cursor, edit.at) + edit.text;
    cursor = edit.end;
  }
  anchors.push([base + out.length, cursor, code.length - cursor]);
  return { text: out + code.slice(cursor), anchors };
}

/** Output position → input position: inside inserted text, the position of the edit. */
function positionMapper(code: string, source: string, anchors: readonly Anchor[]) {
  const sourceLines = lineStarts(source);
  const codeLines = lineStarts(code);
  const first = anchors[0]?.[0] ?? 0;
  const last = anchors.at(-1);
  const end = last ? last[0] + last[2] : source.length;
  return (line: number, column: number): readonly [number, number] | undefined => {
    const offset = (sourceLines[line - 1] ?? 0) + column - 1;
    // The wrapper around the input (the `__vmgate.r(...)` call) is not the user's code.
    if (offset < first || offset >= end) return undefined;
    let original = 0;
    for (const [output, input, length] of anchors) {
      if (output > offset) break;
      // Inside inserted text, the position is that of the edit.
      original = input + Math.min(offset - output, length);
    }
    original = Math.min(Math.max(0, original), code.length);
    let index = 0;
    while (index + 1 < codeLines.length && (codeLines[index + 1] ?? Infinity) <= original) index++;
    return [index + 1, original - (codeLines[index] ?? 0) + 1];
  };
}

function collectNames(pattern: acorn.Pattern, out: string[] | Set<string>): void {
  switch (pattern.type) {
    case 'Identifier':
      if (Array.isArray(out)) out.push(pattern.name);
      else out.add(pattern.name);
      return;
    case 'ObjectPattern':
      for (const property of pattern.properties) {
        collectNames(property.type === 'RestElement' ? property.argument : property.value, out);
      }
      return;
    case 'ArrayPattern':
      for (const element of pattern.elements) if (element) collectNames(element, out);
      return;
    case 'RestElement':
      collectNames(pattern.argument, out);
      return;
    case 'AssignmentPattern':
      collectNames(pattern.left, out);
      return;
    default:
      return;
  }
}

/**
 * The names a statement list declares lexically: `let`, `const`, `class`,
 * and, in a block (not at the top level), function declarations.
 */
function lexicalNames(statements: readonly acorn.Node[], block: boolean): Set<string> {
  const names = new Set<string>();
  for (const statement of statements as Node[]) {
    if (statement.type === 'VariableDeclaration') {
      const decl = statement as unknown as acorn.VariableDeclaration;
      if (decl.kind !== 'var') for (const d of decl.declarations) collectNames(d.id, names);
    } else if (statement.type === 'ClassDeclaration' || (block && statement.type === 'FunctionDeclaration')) {
      names.add((statement.id as acorn.Identifier).name);
    }
  }
  return names;
}

/** Plain function declarations directly in a statement list (what Annex B.3.3 may hoist). */
function sloppyBlockFunctions(statements: readonly acorn.Node[]): string[] {
  const names = new Set<string>();
  for (const statement of statements as Node[]) {
    if (statement.type === 'FunctionDeclaration' && !statement.generator && !statement.async) {
      const name = (statement.id as acorn.Identifier).name;
      if (name !== 'let') names.add(name);
    }
  }
  return [...names];
}

/** Scopes plus the bindings of a loop head (`for (let f …)`) or a catch parameter. */
function withHead(scopes: readonly ReadonlySet<string>[], head: Node | null): readonly ReadonlySet<string>[] {
  if (!head) return scopes;
  const names = new Set<string>();
  if (head.type === 'VariableDeclaration') {
    const decl = head as unknown as acorn.VariableDeclaration;
    if (decl.kind === 'var') return scopes;
    for (const d of decl.declarations) collectNames(d.id, names);
  } else {
    collectNames(head as unknown as acorn.Pattern, names);
  }
  return [...scopes, names];
}

function hasTopLevelAwait(program: acorn.Program): boolean {
  let found = false;
  walk.recursive(program, undefined, {
    Function() {},
    Class(node, _state, recurse) {
      // Computed keys and static blocks are not function bodies, but await
      // there is a syntax error anyway; only the heritage can await.
      if (node.superClass) recurse(node.superClass, undefined);
    },
    AwaitExpression() {
      found = true;
    },
    ForOfStatement(node, _state, recurse) {
      if (node.await) found = true;
      recurse(node.left, undefined);
      recurse(node.right, undefined);
      recurse(node.body, undefined);
    },
  });
  return found;
}

function mentionsDatabase(program: acorn.Program): boolean {
  let found = false;
  walk.full(program, (node) => {
    if (!found && node.type === 'Identifier') {
      const name = (node as acorn.Identifier).name;
      found = name === 'db' || name === 'sql';
    }
  });
  return found;
}
