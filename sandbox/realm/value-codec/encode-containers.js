// Realm-side source: part of the value codec (value-codec/index.js).
// Encoding: arrays, own properties, class instances, Maps and Sets.

import {
  MapIteratorPrototypeNext,
  MapPrototypeEntries,
  MapPrototypeGetSize,
  MathMin,
  ObjectGetOwnPropertyDescriptor,
  ObjectKeys,
  ObjectPrototypeHasOwnProperty,
  ObjectPrototypeLookupGetter,
  ObjectPrototypeLookupSetter,
  ObjectPrototypePropertyIsEnumerable,
  SetIteratorPrototypeNext,
  SetPrototypeGetSize,
  SetPrototypeValues,
} from '../primordials.js';
import { depthMarker, encAccessor, encDescribed, encValue, simpleTag } from './encode-values.js';
import { ownData, ownFunctionName } from './limits.js';
import {
  charge,
  jsonStringBytes,
  keyBytes,
  NO_FIT,
  newArray,
  newObject,
  STEP_INDEX,
  STEP_KEY,
  STEP_MAP_KEY,
  STEP_MAP_VALUE,
  setKey,
  sizeMarker,
  tag,
} from './mirrors.js';

export function encArray(st, arr, depth) {
  if (!charge(st, 2)) return NO_FIT;
  const out = newArray(st);
  st.stack[depth] = arr;
  st.stepKind[depth] = STEP_INDEX;
  const length = arr.length;
  const n = MathMin(length, st.maxArrayLength);
  let i = 0;
  for (; i < n; i++) {
    if (st.exhausted || (i > 0 && !charge(st, 1))) break;
    st.stepKey[depth] = i;
    const desc = ObjectGetOwnPropertyDescriptor(arr, i);
    const item = desc === undefined ? simpleTag(st, 'undefined') : encDescribed(st, desc, depth + 1);
    if (item === NO_FIT) break;
    out[i] = item;
  }
  markUnwritten(st, out, i, n, length);
  return out;
}

/** Mirror of the own enumerable string-keyed properties of `obj`, minus `skip` keys. */
function encProperties(st, obj, depth, skip) {
  if (!charge(st, 2)) return NO_FIT;
  const out = newObject(st);
  st.stack[depth] = obj;
  st.stepKind[depth] = STEP_KEY;
  const keys = ObjectKeys(obj);
  let comma = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (skip !== undefined && skip[key] === true) continue;
    if (st.exhausted) break; // cut inside an earlier value: its marker ends the output
    let item = NO_FIT;
    const fits = charge(st, keyBytes(st, key) + comma);
    comma = 1;
    if (fits) {
      st.stepKey[depth] = key;
      // An own enumerable key: either an accessor (never called) or a data property, read directly.
      const getter = ObjectPrototypeLookupGetter(obj, key);
      const setter = ObjectPrototypeLookupSetter(obj, key);
      item =
        getter === undefined && setter === undefined
          ? encValue(st, obj[key], depth + 1)
          : encAccessor(st, getter !== undefined, setter !== undefined);
    }
    if (item === NO_FIT) {
      setKey(out, key, sizeMarker(st, undefined));
      break;
    }
    setKey(out, key, item);
  }
  return out;
}

export function encPlain(st, obj, depth) {
  if (depth > st.maxDepth) return depthMarker(st, 'Object');
  return encPlainBody(st, obj, depth, undefined);
}

/** Properties of `obj`, escaped as {"$type":"object","value":...} when it has a `$type` key. */
export function encPlainBody(st, obj, depth, skip) {
  const needsEscape = ObjectPrototypeHasOwnProperty(obj, '$type') && ObjectPrototypePropertyIsEnumerable(obj, '$type');
  if (!needsEscape) return encProperties(st, obj, depth, skip);
  if (!charge(st, 27)) return NO_FIT;
  const body = encProperties(st, obj, depth, skip);
  if (body === NO_FIT) return NO_FIT;
  const t = tag(st, 'object');
  t.value = body;
  return t;
}

export function encInstance(st, obj, proto, depth) {
  let className = '';
  const ctor = ownData(proto, 'constructor');
  if (typeof ctor === 'function') className = ownFunctionName(ctor);
  if (depth > st.maxDepth) return depthMarker(st, 'Object', className);
  if (!charge(st, 27 + (className ? jsonStringBytes(className) + 9 : 0))) return NO_FIT;
  const body = encProperties(st, obj, depth, undefined);
  if (body === NO_FIT) return NO_FIT;
  const t = tag(st, 'object');
  if (className) t.class = className;
  t.value = body;
  return t;
}

export function encCollection(st, collection, depth, isMapKind) {
  if (depth > st.maxDepth) return depthMarker(st, isMapKind ? 'Map' : 'Set');
  if (!charge(st, isMapKind ? 28 : 27)) return NO_FIT;
  const size = isMapKind ? MapPrototypeGetSize(collection) : SetPrototypeGetSize(collection);
  const n = MathMin(size, st.maxArrayLength);
  const iterator = isMapKind ? MapPrototypeEntries(collection) : SetPrototypeValues(collection);
  const out = newArray(st);
  st.stack[depth] = collection;
  let i = 0;
  let ended = false;
  for (; i < n; i++) {
    if (st.exhausted || (i > 0 && !charge(st, 1))) break;
    const step = isMapKind ? MapIteratorPrototypeNext(iterator) : SetIteratorPrototypeNext(iterator);
    if (step.done) {
      ended = true; // shrank while encoding (a Proxy trap)
      break;
    }
    st.stepKey[depth] = i;
    let item;
    if (isMapKind) {
      const entry = step.value;
      if (!charge(st, 3)) break;
      st.stepKind[depth] = STEP_MAP_KEY;
      const key = encValue(st, entry[0], depth + 1);
      if (key === NO_FIT) break;
      st.stepKind[depth] = STEP_MAP_VALUE;
      const value = encValue(st, entry[1], depth + 1);
      item = newArray(st);
      item[0] = key;
      item[1] = value === NO_FIT ? sizeMarker(st, undefined) : value;
    } else {
      st.stepKind[depth] = STEP_INDEX;
      item = encValue(st, step.value, depth + 1);
      if (item === NO_FIT) break;
    }
    out[i] = item;
  }
  if (!ended) markUnwritten(st, out, i, n, size);
  const t = tag(st, isMapKind ? 'map' : 'set');
  if (isMapKind) t.entries = out;
  else t.values = out;
  return t;
}

/**
 * Ends `out`, a container's first `written` of `total` items (at most `n`
 * asked for): one marker for what maxBytes cut, or one for what maxArrayLength
 * left out.
 */
function markUnwritten(st, out, written, n, total) {
  if (written < n) {
    out[written] = sizeMarker(st, total - written);
  } else if (total > n) {
    const t = tag(st, 'truncated');
    t.reason = 'length';
    t.remaining = total - n;
    out[n] = t;
  }
}
