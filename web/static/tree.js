// Values as expandable trees, built from the wire encoding (docs/protocol.md,
// "Value encoding"): the JSON `value` of a result frame, where every
// non-JSON-native value is a `{"$type": ...}` tag. Tags are shown as their
// types (`10n`, `Map(2) {…}`, `Uint8Array(3) [1, 2, 3]`, `[Circular *$.x]`).
// Byte tags are decoded with the server's own codec (`/static/codec.js`).
// Children are built when a node is first opened, so a large value costs
// nothing until someone looks into it.

const h = (tag, className, text) => {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
};

const isTag = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.$type === 'string';
const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !isTag(v);

/** The codec's identifier rule for paths: ASCII letters, digits (not first), `_` and `$`. */
const isIdentifier = (key) => /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key);
export const propertyPath = (base, key) => (isIdentifier(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`);
const keyLabel = (key) => (isIdentifier(key) ? key : JSON.stringify(key));

const PREVIEW_CHARS = 100;
const STRING_LEAF_CHARS = 20000;
const CHILDREN_PAGE = 200;

export function quote(s) {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const c of s) {
    if (c === q || c === '\\') out += `\\${c}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c < ' ') out += `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return out + q;
}

const FUNCTION_KINDS = {
  function: 'Function',
  class: 'class',
  async: 'AsyncFunction',
  generator: 'GeneratorFunction',
  asyncgenerator: 'AsyncGeneratorFunction',
};

/** The list's own elements and its trailing `truncated` marker, if any. */
function splitList(list) {
  const last = list[list.length - 1];
  if (isTag(last) && last.$type === 'truncated' && last.remaining !== undefined) {
    return { items: list.slice(0, -1), more: last };
  }
  return { items: list, more: undefined };
}

const moreText = (marker) =>
  marker.reason === 'size'
    ? `… ${marker.remaining} more not sent (output size limit)`
    : `… ${marker.remaining} more item${marker.remaining === 1 ? '' : 's'}`;

export function createTreeRenderer(codec) {
  const decoded = new WeakMap();
  function decodeTag(tag) {
    let value = decoded.get(tag);
    if (value === undefined) {
      try {
        value = { ok: true, value: codec.decode(JSON.stringify(tag)) };
      } catch (error) {
        value = { ok: false, error: String(error?.message ?? error) };
      }
      decoded.set(tag, value);
    }
    return value;
  }

  function bytesInfo(tag) {
    const result = decodeTag(tag);
    if (!result.ok) return { kind: tag.kind, length: 0, items: [], error: result.error };
    const v = result.value;
    if (tag.kind === 'ArrayBuffer' || tag.kind === 'DataView') {
      const bytes = new Uint8Array(tag.kind === 'ArrayBuffer' ? v : v.buffer, v.byteOffset ?? 0, v.byteLength);
      return { kind: tag.kind, length: bytes.length, items: bytes, hex: true };
    }
    return { kind: tag.kind, length: v.length, items: v, hex: false };
  }

  const byteText = (info, i) =>
    info.hex
      ? info.items[i].toString(16).padStart(2, '0')
      : `${info.items[i]}${typeof info.items[i] === 'bigint' ? 'n' : ''}`;

  function bytesPreview(info, max = 16) {
    const shown = Math.min(info.length, max);
    const parts = [];
    for (let i = 0; i < shown; i++) parts.push(byteText(info, i));
    if (info.length > shown) parts.push('…');
    return info.hex ? `<${parts.join(' ')}>` : `[${parts.join(', ')}]`;
  }

  /**
   * A one-line description of a value: `{ text, cls, type }`. `depth` > 0
   * abbreviates containers (`{…}`, `Array(3)`), as inside a preview.
   */
  function describe(v, depth = 0) {
    if (v === null) return { text: 'null', cls: 'v-null', type: 'null' };
    switch (typeof v) {
      case 'string':
        return {
          text: quote(v.length > 2000 && depth > 0 ? `${v.slice(0, 2000)}…` : v),
          cls: 'v-str',
          type: 'string',
        };
      case 'number':
        return { text: String(v), cls: 'v-num', type: 'number' };
      case 'boolean':
        return { text: String(v), cls: 'v-bool', type: 'boolean' };
    }
    if (Array.isArray(v)) {
      const { items, more } = splitList(v);
      const length = items.length + (more ? more.remaining : 0);
      if (depth > 0) return { text: `Array(${length})`, cls: 'v-obj', type: 'Array' };
      return {
        text: `(${length}) [${previewList(
          items.map((x) => describe(x, 1).text),
          more,
        )}]`,
        cls: 'v-obj',
        type: `Array(${length})`,
      };
    }
    if (!isTag(v)) {
      if (depth > 0) return { text: Object.keys(v).length ? '{…}' : '{}', cls: 'v-obj', type: 'Object' };
      return { text: `{${previewProps(v)}}`, cls: 'v-obj', type: 'Object' };
    }
    switch (v.$type) {
      case 'undefined':
        return { text: 'undefined', cls: 'v-undef', type: 'undefined' };
      case 'number':
        return { text: v.value, cls: 'v-num', type: 'number' };
      case 'bigint':
        return { text: `${v.value}n`, cls: 'v-num', type: 'bigint' };
      case 'date':
        return { text: v.value === null ? 'Invalid Date' : v.value, cls: 'v-date', type: 'Date' };
      case 'regexp':
        return { text: `/${v.source}/${v.flags}`, cls: 'v-re', type: 'RegExp' };
      case 'symbol':
        return { text: `Symbol(${v.description ?? ''})`, cls: 'v-sym', type: 'symbol' };
      case 'function': {
        const kind = FUNCTION_KINDS[v.kind] ?? 'Function';
        const name = v.name ? `${kind === 'class' ? ' ' : ': '}${v.name}` : kind === 'class' ? '' : ' (anonymous)';
        return { text: `[${kind}${name}]`, cls: 'v-fn', type: kind === 'class' ? 'class' : 'function' };
      }
      case 'bytes': {
        const info = bytesInfo(v);
        if (info.error) return { text: `${v.kind} <undecodable: ${info.error}>`, cls: 'v-err', type: v.kind };
        const head = info.hex ? `${v.kind} {byteLength: ${info.length}}` : `${v.kind}(${info.length})`;
        return {
          text: depth > 0 ? head : `${head} ${bytesPreview(info)}`,
          cls: 'v-bytes',
          type: v.kind,
        };
      }
      case 'map': {
        const { items, more } = splitList(v.entries);
        const size = items.length + (more ? more.remaining : 0);
        if (depth > 0) return { text: `Map(${size})`, cls: 'v-obj', type: 'Map' };
        const parts = items.map((pair) =>
          Array.isArray(pair) ? `${describe(pair[0], 1).text} => ${describe(pair[1], 1).text}` : describe(pair, 1).text,
        );
        return { text: `Map(${size}) {${previewList(parts, more)}}`, cls: 'v-obj', type: `Map(${size})` };
      }
      case 'set': {
        const { items, more } = splitList(v.values);
        const size = items.length + (more ? more.remaining : 0);
        if (depth > 0) return { text: `Set(${size})`, cls: 'v-obj', type: 'Set' };
        return {
          text: `Set(${size}) {${previewList(
            items.map((x) => describe(x, 1).text),
            more,
          )}}`,
          cls: 'v-obj',
          type: `Set(${size})`,
        };
      }
      case 'error': {
        const message = typeof v.message === 'string' ? v.message : '';
        const head = message ? `${v.name}: ${message.split('\n')[0]}` : String(v.name);
        return { text: head, cls: 'v-err', type: v.name ?? 'Error' };
      }
      case 'object': {
        const cls = v.class;
        if (depth > 0) return { text: cls ? `${cls}` : '{…}', cls: 'v-obj', type: cls ?? 'Object' };
        return { text: `${cls ? `${cls} ` : ''}{${previewProps(v.value ?? {})}}`, cls: 'v-obj', type: cls ?? 'Object' };
      }
      case 'boxed': {
        const inner = describe(v.value, 1);
        const kind = { string: 'String', number: 'Number', boolean: 'Boolean', bigint: 'BigInt', symbol: 'Symbol' }[
          inner.type
        ];
        return { text: `[${kind ?? 'Object'}: ${inner.text}]`, cls: inner.cls, type: `${kind ?? ''} object` };
      }
      case 'promise':
        return { text: 'Promise {<unknown>}', cls: 'v-obj', type: 'Promise' };
      case 'weakmap':
        return { text: 'WeakMap {<items unknown>}', cls: 'v-obj', type: 'WeakMap' };
      case 'weakset':
        return { text: 'WeakSet {<items unknown>}', cls: 'v-obj', type: 'WeakSet' };
      case 'weakref':
        return { text: 'WeakRef {<unknown>}', cls: 'v-obj', type: 'WeakRef' };
      case 'accessor':
        return {
          text: v.get && v.set ? '[Getter/Setter]' : v.get ? '[Getter]' : '[Setter]',
          cls: 'v-meta',
          type: 'accessor',
        };
      case 'circular':
        return { text: `[Circular *${v.ref}]`, cls: 'v-meta', type: 'circular reference' };
      case 'truncated':
        return describeTruncated(v);
      default:
        return { text: `<unknown $type ${JSON.stringify(v.$type)}>`, cls: 'v-err', type: 'unknown tag' };
    }
  }

  function describeTruncated(v) {
    switch (v.reason) {
      case 'depth':
        return {
          text: `[${v.class ?? v.kind ?? 'Object'}]`,
          cls: 'v-meta',
          type: 'not sent: nested deeper than maxDepth',
        };
      case 'length':
        if (typeof v.value === 'string') {
          return {
            text: `${quote(v.value.length > 2000 ? v.value.slice(0, 2000) : v.value)}… (${v.length} characters, cut)`,
            cls: 'v-str',
            type: `string (${v.length} characters, cut at maxStringLength)`,
          };
        }
        return { text: moreText(v), cls: 'v-meta', type: 'not sent: past maxArrayLength' };
      case 'size':
        return {
          text: v.remaining !== undefined ? moreText(v) : '… (not sent: output size limit)',
          cls: 'v-meta',
          type: 'not sent: past maxBytes',
        };
      case 'error':
        return { text: '<unreadable: a Proxy trap threw>', cls: 'v-meta', type: 'unreadable value' };
      default:
        return { text: '…', cls: 'v-meta', type: 'truncated' };
    }
  }

  function previewList(parts, more) {
    let out = '';
    let i = 0;
    for (; i < parts.length; i++) {
      const next = (i ? ', ' : '') + parts[i];
      if (out.length + next.length > PREVIEW_CHARS && i > 0) break;
      out += next;
    }
    if (i < parts.length || more) out += i ? ', …' : '…';
    return out;
  }

  function previewProps(obj) {
    const parts = Object.keys(obj).map((key) => `${keyLabel(key)}: ${describe(obj[key], 1).text}`);
    return previewList(parts, undefined);
  }

  /** The children of an expandable value: `[{ key, value, path, kind }]`, or undefined for a leaf. */
  function childrenOf(v, path) {
    if (Array.isArray(v)) {
      if (v.length === 0) return undefined;
      return v.map((x, i) =>
        isTag(x) && x.$type === 'truncated' && x.remaining !== undefined && i === v.length - 1
          ? { more: x }
          : { key: String(i), value: x, path: `${path}[${i}]` },
      );
    }
    if (isPlainObject(v)) {
      const keys = Object.keys(v);
      if (keys.length === 0) return undefined;
      return keys.map((key) => ({ key: keyLabel(key), value: v[key], path: propertyPath(path, key) }));
    }
    if (!isTag(v)) return undefined;
    switch (v.$type) {
      case 'object':
        return childrenOf(v.value ?? {}, path);
      case 'map':
        if (v.entries.length === 0) return undefined;
        return v.entries.map((pair, i) =>
          Array.isArray(pair)
            ? { key: String(i), entry: pair, path: `${path}[${i}]` }
            : i === v.entries.length - 1 && pair.remaining !== undefined
              ? { more: pair }
              : { key: String(i), value: pair, path: `${path}[${i}]` },
        );
      case 'set':
        return childrenOf(v.values, path);
      case 'error': {
        const out = [];
        if (typeof v.stack === 'string' || isTag(v.stack)) out.push({ key: 'stack', value: v.stack, stack: true });
        if ('cause' in v) out.push({ key: 'cause', value: v.cause, path: `${path}.cause` });
        if (Array.isArray(v.errors)) out.push({ key: 'errors', value: v.errors, path: `${path}.errors` });
        if (isPlainObject(v.props)) {
          for (const key of Object.keys(v.props)) {
            out.push({ key: keyLabel(key), value: v.props[key], path: propertyPath(path, key) });
          }
        }
        return out.length ? out : undefined;
      }
      case 'bytes': {
        const info = bytesInfo(v);
        if (info.error || info.length === 0) return undefined;
        const out = [];
        const shown = Math.min(info.length, 4096);
        if (info.hex) {
          for (let i = 0; i < shown; i += 16) {
            const row = [];
            for (let j = i; j < Math.min(i + 16, shown); j++) row.push(byteText(info, j));
            out.push({ key: i.toString(16).padStart(4, '0'), text: row.join(' '), cls: 'v-bytes' });
          }
        } else {
          for (let i = 0; i < shown; i++) out.push({ key: String(i), text: byteText(info, i), cls: 'v-num' });
        }
        if (info.length > shown) out.push({ more: { reason: 'length', remaining: info.length - shown } });
        return out;
      }
      default:
        return undefined;
    }
  }

  const opened = new WeakMap(); // details element → function rendering its children once

  function leafValue(d, child) {
    const span = h('span', `v ${d.cls}`, d.text);
    span.title = d.type;
    if (child?.stack) span.classList.add('v-stack');
    return span;
  }

  function keySpan(key) {
    const span = h('span', 'k', key);
    return span;
  }

  /** One node: `<details>` when it has children, a plain row otherwise. */
  function node(child, tree) {
    if (child.more) {
      const row = h('div', 'leaf');
      row.append(h('span', 'v v-meta', moreText(child.more)));
      return row;
    }
    if (child.text !== undefined) {
      const row = h('div', 'leaf');
      row.append(keySpan(child.key), ': ', h('span', `v ${child.cls}`, child.text));
      return row;
    }
    if (child.entry) return entryNode(child, tree);
    const v = child.value;
    const kids = child.stack ? undefined : childrenOf(v, child.path);
    const d = describe(v);
    if (child.stack && typeof v === 'string') {
      const row = h('div', 'leaf');
      row.append(keySpan(child.key), ': ');
      row.append(h('pre', 'v v-stack', v));
      return row;
    }
    if (!kids) {
      const row = h('div', 'leaf');
      if (child.path) row.dataset.path = child.path;
      if (child.key !== undefined) row.append(keySpan(child.key), ': ');
      if (isTag(v) && v.$type === 'circular') {
        const jump = h('button', 'v v-meta circular', d.text);
        jump.type = 'button';
        jump.title = `circular reference: show ${v.ref}`;
        jump.addEventListener('click', () => reveal(tree, v.ref));
        row.append(jump);
      } else if (typeof v === 'string' && v.length > STRING_LEAF_CHARS) {
        row.append(leafValue({ ...d, text: `${quote(v.slice(0, STRING_LEAF_CHARS))}…` }));
        const all = h('button', 'link', `show all ${v.length} characters`);
        all.type = 'button';
        all.addEventListener('click', () => {
          all.previousSibling.textContent = quote(v);
          all.remove();
        });
        row.append(' ', all);
      } else row.append(leafValue(d));
      return row;
    }
    return expandable(child.key, d, kids, child.path, tree);
  }

  function expandable(key, d, kids, path, tree) {
    const details = h('details', 'node');
    if (path) details.dataset.path = path;
    const summary = h('summary');
    if (key !== undefined) summary.append(keySpan(key), ': ');
    summary.append(leafValue(d));
    details.append(summary);
    const box = h('div', 'kids');
    box.setAttribute('role', 'group');
    details.append(box);
    let rendered = false;
    const render = () => {
      if (rendered) return;
      rendered = true;
      renderPage(box, kids, 0, tree);
    };
    opened.set(details, render);
    details.addEventListener('toggle', () => {
      if (details.open) render();
    });
    return details;
  }

  function renderPage(box, kids, from, tree) {
    const to = Math.min(kids.length, from + CHILDREN_PAGE);
    for (let i = from; i < to; i++) box.append(node(kids[i], tree));
    if (to < kids.length) {
      const more = h('button', 'link', `show ${Math.min(CHILDREN_PAGE, kids.length - to)} more of ${kids.length - to}`);
      more.type = 'button';
      more.addEventListener('click', () => {
        more.remove();
        renderPage(box, kids, to, tree);
      });
      box.append(more);
    }
  }

  /** A Map entry: `key => value`, with the key and the value as children. */
  function entryNode(child, tree) {
    const [k, val] = child.entry;
    const text = `${describe(k, 1).text} => ${describe(val, 1).text}`;
    const kids = [
      { key: 'key', value: k, path: `${child.path}[0]` },
      { key: 'value', value: val, path: `${child.path}[1]` },
    ];
    const simple = !childrenOf(k, '') && !childrenOf(val, '') && !isTag(k) && !isTag(val);
    if (simple) {
      const row = h('div', 'leaf');
      row.dataset.path = child.path;
      row.append(keySpan(child.key), ': ', leafValue({ text, cls: 'v-obj', type: 'Map entry' }));
      return row;
    }
    return expandable(child.key, { text, cls: 'v-obj', type: 'Map entry' }, kids, child.path, tree);
  }

  /** Opens the nodes on the way to `ref` (a `circular` path like `$.a.items[0]`) and focuses it. */
  function reveal(tree, ref) {
    const steps = ref.match(/^\$|\.[A-Za-z_$][A-Za-z0-9_$]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\]/g) ?? [];
    let path = '';
    let target = null;
    for (const step of steps) {
      path += step;
      const found = tree.querySelector(`[data-path="${CSS.escape(path)}"]`);
      if (!found) break;
      target = found;
      if (found.tagName === 'DETAILS') {
        opened.get(found)?.();
        found.open = true;
      }
    }
    if (!target) return;
    const focusable = target.tagName === 'DETAILS' ? target.querySelector('summary') : target;
    if (focusable.tagName !== 'SUMMARY') focusable.tabIndex = -1;
    focusable.focus();
    target.classList.remove('flash');
    void target.offsetWidth;
    target.classList.add('flash');
  }

  /** The tree of a whole value (the root node collapsed unless `open`). */
  function renderTree(value, { open = false } = {}) {
    const tree = h('div', 'tree');
    const kids = childrenOf(value, '$');
    if (!kids) {
      const row = node({ value, path: '$' }, tree);
      tree.append(row);
      return tree;
    }
    const root = expandable(undefined, describe(value), kids, '$', tree);
    tree.append(root);
    if (open) {
      opened.get(root)();
      root.open = true;
    }
    tree.addEventListener('keydown', (event) => treeKeys(event, tree));
    return tree;
  }

  /** Arrow keys on a node: Right opens (or goes to the first child), Left closes (or goes to the parent). */
  function treeKeys(event, tree) {
    const summary = event.target;
    if (summary.tagName !== 'SUMMARY' || event.altKey || event.ctrlKey || event.metaKey) return;
    const details = summary.parentElement;
    const summaries = () => [...tree.querySelectorAll('summary')].filter((s) => s.offsetParent !== null);
    if (event.key === 'ArrowRight') {
      if (!details.open) {
        opened.get(details)?.();
        details.open = true;
      } else details.querySelector(':scope > .kids summary')?.focus();
    } else if (event.key === 'ArrowLeft') {
      if (details.open) details.open = false;
      else details.parentElement.closest('details')?.querySelector(':scope > summary')?.focus();
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      const list = summaries();
      const next = list[list.indexOf(summary) + (event.key === 'ArrowDown' ? 1 : -1)];
      if (!next) return;
      next.focus();
    } else return;
    event.preventDefault();
  }

  /**
   * Rows when the value reads as a query result: a non-empty array of plain
   * objects (or `{ rows: [...] }`, what `sql\`…\`.execute(db)` returns).
   */
  function rowsOf(value) {
    let list = value;
    if (isTag(value) && value.$type === 'object') list = value.value;
    if (isPlainObject(list) && Array.isArray(list.rows)) list = list.rows;
    if (!Array.isArray(list)) return undefined;
    const { items, more } = splitList(list);
    if (items.length === 0) return undefined;
    const rows = [];
    const columns = [];
    const seen = new Set();
    for (const item of items) {
      const row = isPlainObject(item) ? item : isTag(item) && item.$type === 'object' ? item.value : undefined;
      if (!isPlainObject(row)) return undefined;
      for (const key of Object.keys(row)) {
        if (!seen.has(key)) {
          seen.add(key);
          columns.push(key);
        }
      }
      rows.push(row);
    }
    if (columns.length === 0 || columns.length > 200) return undefined;
    return { rows, columns, more };
  }

  function renderTable({ rows, columns, more }) {
    const wrap = h('div', 'table-wrap');
    wrap.tabIndex = 0;
    wrap.setAttribute('role', 'region');
    const table = h('table', 'rows');
    const caption = h(
      'caption',
      null,
      `${rows.length + (more ? more.remaining : 0)} row${rows.length === 1 && !more ? '' : 's'}`,
    );
    wrap.setAttribute('aria-label', `Query result, ${caption.textContent}`);
    table.append(caption);
    const head = h('thead');
    const tr = h('tr');
    for (const column of columns) {
      const th = h('th', null, column);
      th.scope = 'col';
      tr.append(th);
    }
    head.append(tr);
    table.append(head);
    const body = h('tbody');
    const shown = Math.min(rows.length, 1000);
    for (let i = 0; i < shown; i++) {
      const row = h('tr');
      for (const column of columns) {
        const td = h('td');
        if (Object.hasOwn(rows[i], column)) {
          const d = describe(rows[i][column], 1);
          const cell = h('span', `v ${d.cls}`, typeof rows[i][column] === 'string' ? rows[i][column] : d.text);
          cell.title = d.type;
          td.append(cell);
          if (d.cls === 'v-num') td.className = 'num';
        }
        row.append(td);
      }
      body.append(row);
    }
    table.append(body);
    wrap.append(table);
    if (shown < rows.length || more) {
      const note = h('p', 'hint', `${rows.length - shown + (more ? more.remaining : 0)} more rows not shown`);
      wrap.append(note);
    }
    return wrap;
  }

  return { describe, renderTree, rowsOf, renderTable, reveal };
}
