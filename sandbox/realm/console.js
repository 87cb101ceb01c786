// Realm-side source. The `console` a user expects, formatted inside the realm
// (docs/design.md §1 rule 6) and streamed to the host one line at a time.

import {
  ArrayPrototypeConcat,
  ArrayPrototypeIncludes,
  ArrayPrototypeJoin,
  ArrayPrototypeMap,
  ArrayPrototypePush,
  ArrayPrototypeReduce,
  isMap,
  MapPrototypeDelete,
  MapPrototypeGet,
  MapPrototypeHas,
  MapPrototypeSet,
  MathFloor,
  MathMax,
  MathRound,
  mapEntries,
  NumberPrototypeToString,
  ObjectCreate,
  ObjectDefineProperty,
  ObjectKeys,
  ObjectPrototype,
  SafeMap,
  StringPrototypeRepeat,
  StringPrototypeReplaceAll,
  StringPrototypeSlice,
} from './primordials.js';

export function createConsole(emit, getInspector, now, maxLineLength) {
  const counts = new SafeMap();
  const timers = new SafeMap();
  let indent = '';

  const write = (level, text) => {
    let line = indent === '' ? text : indent + StringPrototypeReplaceAll(text, '\n', `\n${indent}`);
    if (line.length > maxLineLength) {
      line = `${StringPrototypeSlice(line, 0, maxLineLength)}… [${line.length - maxLineLength} more characters]`;
    }
    emit(level, line);
  };
  const format = (args) => getInspector().formatLogArgs(args);
  const labelOf = (label) => (label === undefined ? 'default' : `${label}`);
  const elapsed = (label) => {
    const start = MapPrototypeGet(timers, label);
    const ms = now() - start;
    return ms < 1000 ? `${NumberPrototypeToString(MathRound(ms * 1000) / 1000)}ms` : `${(ms / 1000).toFixed(3)}s`;
  };

  const methods = {
    log(...args) {
      write('log', format(args));
    },
    info(...args) {
      write('info', format(args));
    },
    warn(...args) {
      write('warn', format(args));
    },
    error(...args) {
      write('error', format(args));
    },
    debug(...args) {
      write('debug', format(args));
    },
    dir(value, options) {
      const depth = options !== null && typeof options === 'object' && 'depth' in options ? options.depth : 2;
      write('log', getInspector().inspect(value, { depth: depth === null ? Infinity : depth }));
    },
    dirxml(...args) {
      write('log', format(args));
    },
    table(data, columns) {
      if (data === null || typeof data !== 'object') {
        write('log', format([data]));
        return;
      }
      write('log', renderTable(data, columns, getInspector()));
    },
    time(label) {
      const key = labelOf(label);
      if (MapPrototypeHas(timers, key)) {
        write('warn', `Warning: Label '${key}' already exists for console.time()`);
        return;
      }
      MapPrototypeSet(timers, key, now());
    },
    timeLog(label, ...data) {
      const key = labelOf(label);
      if (!MapPrototypeHas(timers, key)) {
        write('warn', `Warning: No such label '${key}' for console.timeLog()`);
        return;
      }
      const extra = data.length > 0 ? ` ${format(data)}` : '';
      write('log', `${key}: ${elapsed(key)}${extra}`);
    },
    timeEnd(label) {
      const key = labelOf(label);
      if (!MapPrototypeHas(timers, key)) {
        write('warn', `Warning: No such label '${key}' for console.timeEnd()`);
        return;
      }
      write('log', `${key}: ${elapsed(key)}`);
      MapPrototypeDelete(timers, key);
    },
    count(label) {
      const key = labelOf(label);
      const n = (MapPrototypeGet(counts, key) ?? 0) + 1;
      MapPrototypeSet(counts, key, n);
      write('log', `${key}: ${n}`);
    },
    countReset(label) {
      MapPrototypeDelete(counts, labelOf(label));
    },
    assert(condition, ...data) {
      if (condition) return;
      if (data.length > 0 && typeof data[0] === 'string') {
        data[0] = `Assertion failed: ${data[0]}`;
        write('error', format(data));
      } else {
        write('error', data.length > 0 ? `Assertion failed: ${format(data)}` : 'Assertion failed');
      }
    },
    trace(...args) {
      // Stacks are not captured in a session realm (see error-policy.js).
      write('log', `Trace${args.length > 0 ? `: ${format(args)}` : ''}`);
    },
    group(...label) {
      if (label.length > 0) write('log', format(label));
      indent += '  ';
    },
    groupCollapsed(...label) {
      if (label.length > 0) write('log', format(label));
      indent += '  ';
    },
    groupEnd() {
      indent = StringPrototypeSlice(indent, 0, MathMax(0, indent.length - 2));
    },
    clear() {},
  };
  // Built on first use of the global (bootstrap.js), inside a user entry: no
  // for-of here, since user code may have replaced the array iterator.
  const console = ObjectCreate(ObjectPrototype);
  const names = ObjectKeys(methods);
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    ObjectDefineProperty(console, name, { value: methods[name], writable: true, enumerable: true, configurable: true });
  }
  return console;
}

/** Node's console.table layout: box-drawing, an (index) column, then keys or Values. */
function renderTable(data, columns, inspector) {
  const cell = (v) => inspector.inspect(v, { depth: 1, breakLength: Infinity, compact: true });
  const rows = [];
  const keys = [];
  let hasValues = false;
  const addKey = (k) => {
    if (!ArrayPrototypeIncludes(keys, k)) ArrayPrototypePush(keys, k);
  };
  const entries = isMap(data) ? mapEntries(data) : ArrayPrototypeMap(ObjectKeys(data), (k) => [k, data[k]]);
  for (let e = 0; e < entries.length; e++) {
    const entry = entries[e];
    const index = entry[0];
    const row = entry[1];
    const values = ObjectCreate(null);
    if (row !== null && typeof row === 'object') {
      const rowKeys = ObjectKeys(row);
      for (let j = 0; j < rowKeys.length; j++) {
        const k = rowKeys[j];
        if (columns !== undefined && !ArrayPrototypeIncludes(columns, k)) continue;
        addKey(k);
        values[k] = cell(row[k]);
      }
      ArrayPrototypePush(rows, { index: typeof index === 'string' ? index : cell(index), values });
    } else {
      hasValues = true;
      ArrayPrototypePush(rows, { index: typeof index === 'string' ? index : cell(index), values, value: cell(row) });
    }
  }
  if (columns !== undefined) {
    for (let i = 0; i < columns.length; i++) addKey(columns[i]);
  }
  const header = ArrayPrototypeConcat(['(index)'], keys);
  if (hasValues) ArrayPrototypePush(header, 'Values');
  const table = ArrayPrototypeMap(rows, (r) => {
    const line = [r.index];
    for (let i = 0; i < keys.length; i++) ArrayPrototypePush(line, r.values[keys[i]] ?? '');
    if (hasValues) ArrayPrototypePush(line, r.value ?? '');
    return line;
  });
  const widths = ArrayPrototypeMap(header, (h, i) =>
    ArrayPrototypeReduce(table, (w, line) => MathMax(w, line[i].length), h.length),
  );
  const pad = (text, width) => {
    const left = MathFloor((width - text.length) / 2);
    return `${StringPrototypeRepeat(' ', left)}${text}${StringPrototypeRepeat(' ', width - text.length - left)}`;
  };
  const rule = (l, m, r) =>
    `${l}${ArrayPrototypeJoin(
      ArrayPrototypeMap(widths, (w) => StringPrototypeRepeat('─', w + 2)),
      m,
    )}${r}`;
  const line = (cells) =>
    `│${ArrayPrototypeJoin(
      ArrayPrototypeMap(cells, (c, i) => ` ${pad(c, widths[i])} `),
      '│',
    )}│`;
  const out = [rule('┌', '┬', '┐'), line(header), rule('├', '┼', '┤')];
  for (let i = 0; i < table.length; i++) ArrayPrototypePush(out, line(table[i]));
  ArrayPrototypePush(out, rule('└', '┴', '┘'));
  return ArrayPrototypeJoin(out, '\n');
}
