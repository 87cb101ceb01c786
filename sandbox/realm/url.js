// Realm-side source. `URL` and `URLSearchParams`, built inside the realm:
// parsing is the host's WHATWG parser (only strings cross, host.url), every
// object a user gets is a realm object. Built on first use (bootstrap.js).

import {
  ArrayPrototypeFilter,
  ArrayPrototypeForEach,
  ArrayPrototypeIndexOf,
  ArrayPrototypeJoin,
  ArrayPrototypeMap,
  ArrayPrototypePush,
  ArrayPrototypeSlice,
  ArrayPrototypeSome,
  ArrayPrototypeSort,
  JSONParse,
  ObjectDefineProperty,
  ObjectKeys,
  ReflectApply,
  SafeWeakMap,
  StringPrototypeIndexOf,
  StringPrototypeReplaceAll,
  StringPrototypeSlice,
  StringPrototypeSplit,
  StringPrototypeStartsWith,
  SymbolIterator,
  WeakMapPrototypeGet,
  WeakMapPrototypeSet,
} from './primordials.js';

/**
 * @param {any} bridge
 * @param {readonly string[]} fields The fields the host's parse answers with (sandbox/realm.ts, URL_FIELDS).
 */
export function createUrlClasses(bridge, fields) {
  function parse(op, a, b, c) {
    const json = bridge.url(op, a, b, c);
    if (typeof json !== 'string' || json === '') throw new TypeError(`Invalid URL${op === 'parse' ? `: ${a}` : ''}`);
    return JSONParse(json);
  }

  const encode = (s) => StringPrototypeReplaceAll(encodeURIComponent(s), '%20', '+');
  const decode = (s) => {
    const plus = StringPrototypeReplaceAll(s, '+', ' ');
    try {
      return decodeURIComponent(plus);
    } catch {
      return plus;
    }
  };

  class URLSearchParams {
    #list = [];
    #onChange;
    /**
     * @param {any} [init]
     * @param {unknown} [onChange]
     */
    constructor(init = '', onChange = undefined) {
      this.#onChange = typeof onChange === 'function' ? onChange : undefined;
      if (init !== null && typeof init === 'object') {
        if (typeof init[SymbolIterator] === 'function') {
          // The caller's iterable, iterated as the URL standard says (its own protocol, not ours).
          // realm-lint-allow: the caller's iterable
          for (const pair of init) {
            // realm-lint-allow: a pair from the caller's iterable
            const [k, v] = pair;
            ArrayPrototypePush(this.#list, [`${k}`, `${v}`]);
          }
        } else {
          const keys = ObjectKeys(init);
          for (let i = 0; i < keys.length; i++) ArrayPrototypePush(this.#list, [keys[i], `${init[keys[i]]}`]);
        }
      } else {
        this.#parse(`${init}`);
      }
    }
    #parse(text) {
      this.#list = [];
      const body = StringPrototypeStartsWith(text, '?') ? StringPrototypeSlice(text, 1) : text;
      if (body === '') return;
      const parts = StringPrototypeSplit(body, '&');
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i];
        if (part === '') continue;
        const eq = StringPrototypeIndexOf(part, '=');
        const k = eq === -1 ? part : StringPrototypeSlice(part, 0, eq);
        const v = eq === -1 ? '' : StringPrototypeSlice(part, eq + 1);
        ArrayPrototypePush(this.#list, [decode(k), decode(v)]);
      }
    }
    static _reset(params, text) {
      params.#parse(text);
    }
    #changed() {
      if (this.#onChange !== undefined) this.#onChange(this.#serialize());
    }
    get size() {
      return this.#list.length;
    }
    append(name, value) {
      ArrayPrototypePush(this.#list, [`${name}`, `${value}`]);
      this.#changed();
    }
    delete(name, value) {
      const n = `${name}`;
      this.#list = ArrayPrototypeFilter(
        this.#list,
        (e) => !(e[0] === n && (value === undefined || e[1] === `${value}`)),
      );
      this.#changed();
    }
    get(name) {
      const n = `${name}`;
      const list = this.#list;
      for (let i = 0; i < list.length; i++) if (list[i][0] === n) return list[i][1];
      return null;
    }
    getAll(name) {
      const n = `${name}`;
      return ArrayPrototypeMap(
        ArrayPrototypeFilter(this.#list, (e) => e[0] === n),
        (e) => e[1],
      );
    }
    has(name, value) {
      const n = `${name}`;
      return ArrayPrototypeSome(this.#list, (e) => e[0] === n && (value === undefined || e[1] === `${value}`));
    }
    set(name, value) {
      const n = `${name}`;
      const v = `${value}`;
      const i = ArrayPrototypeIndexOf(
        ArrayPrototypeMap(this.#list, (e) => e[0]),
        n,
      );
      if (i === -1) ArrayPrototypePush(this.#list, [n, v]);
      else {
        this.#list[i] = [n, v];
        this.#list = ArrayPrototypeFilter(this.#list, (e, j) => j <= i || e[0] !== n);
      }
      this.#changed();
    }
    sort() {
      ArrayPrototypeSort(this.#list, (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      this.#changed();
    }
    forEach(callback, thisArg) {
      const list = ArrayPrototypeSlice(this.#list);
      for (let i = 0; i < list.length; i++) ReflectApply(callback, thisArg, [list[i][1], list[i][0], this]);
    }
    *entries() {
      const list = ArrayPrototypeSlice(this.#list);
      for (let i = 0; i < list.length; i++) yield [list[i][0], list[i][1]];
    }
    *keys() {
      const list = ArrayPrototypeSlice(this.#list);
      for (let i = 0; i < list.length; i++) yield list[i][0];
    }
    *values() {
      const list = ArrayPrototypeSlice(this.#list);
      for (let i = 0; i < list.length; i++) yield list[i][1];
    }
    toString() {
      return this.#serialize();
    }
    #serialize() {
      return ArrayPrototypeJoin(
        ArrayPrototypeMap(this.#list, (e) => `${encode(e[0])}=${encode(e[1])}`),
        '&',
      );
    }
  }
  // As the URL standard says: @@iterator is the same function as entries.
  ObjectDefineProperty(URLSearchParams.prototype, SymbolIterator, {
    value: URLSearchParams.prototype.entries,
    writable: true,
    configurable: true,
  });
  const resetParams = URLSearchParams._reset;
  delete (/** @type {any} */ (URLSearchParams)._reset);

  return { URL: createUrl(fields, parse, resetParams, URLSearchParams), URLSearchParams };
}

function createUrl(fields, parse, resetParams, URLSearchParams) {
  const state = new SafeWeakMap();
  const stateOf = (self) => {
    const s = WeakMapPrototypeGet(state, self);
    if (s === undefined) throw new TypeError('Receiver must be a URL');
    return s;
  };
  const parseInput = (url, base) => parse('parse', `${url}`, base === undefined ? undefined : `${base}`);
  class URL {
    constructor(url, base) {
      const self = { parts: parseInput(url, base), params: undefined };
      WeakMapPrototypeSet(state, this, self);
      self.params = new URLSearchParams(self.parts.search, (query) => {
        self.parts = parse('set', self.parts.href, 'search', query);
      });
    }
    static canParse(url, base) {
      try {
        parseInput(url, base);
        return true;
      } catch {
        return false;
      }
    }
    get searchParams() {
      return stateOf(this).params;
    }
    toString() {
      return stateOf(this).parts.href;
    }
    toJSON() {
      return stateOf(this).parts.href;
    }
  }
  ArrayPrototypeForEach(fields, (field) => {
    ObjectDefineProperty(URL.prototype, field, {
      get() {
        return stateOf(this).parts[field];
      },
      set:
        field === 'origin'
          ? undefined
          : /** @this {unknown} */ function (value) {
              const s = stateOf(this);
              s.parts = parse('set', s.parts.href, field, `${value}`);
              if (field === 'href' || field === 'search') resetParams(s.params, s.parts.search);
            },
      enumerable: true,
      configurable: true,
    });
  });
  return URL;
}
