// Realm-side source: part of the value codec (value-codec/index.js).
// Encoding: errors (name, message, stack, cause, errors and own properties).

import {
  ArrayIsArray,
  isAccessor,
  ObjectFreeze,
  ObjectGetOwnPropertyDescriptor,
  ObjectGetPrototypeOf,
  ObjectKeys,
} from '../primordials.js';
import { encArray, encPlainBody } from './encode-containers.js';
import { depthMarker, encDescribed } from './encode-values.js';
import { ownData } from './limits.js';
import { charge, jsonStringBytes, NO_FIT, STEP_KEY, sizeMarker, tag, truncatedString } from './mirrors.js';

const ERROR_OWN_FIELDS = ObjectFreeze({
  __proto__: null,
  name: true,
  message: true,
  stack: true,
  cause: true,
  errors: true,
});

const ERROR_FIELDS_BUT_ERRORS = ObjectFreeze({
  __proto__: null,
  name: true,
  message: true,
  stack: true,
  cause: true,
});

function lookupData(obj, key) {
  let o = obj;
  for (let i = 0; i < 10000 && o !== null; i++) {
    const desc = ObjectGetOwnPropertyDescriptor(o, key);
    if (desc !== undefined) return isAccessor(desc) ? undefined : desc.value;
    o = ObjectGetPrototypeOf(o);
  }
  return undefined;
}

/** Sets a string field of an error (name, message, stack), length-limited like any string; returns its size. */
function errorStringField(st, t, key, s) {
  if (s.length > st.maxStringLength) {
    const truncated = truncatedString(st, s, st.maxStringLength);
    t[key] = truncated.mirror;
    return truncated.bytes + key.length + 4;
  }
  t[key] = s;
  return jsonStringBytes(s) + key.length + 4;
}

export function encError(st, err, depth) {
  if (depth > st.maxDepth) return depthMarker(st, 'Error');
  const nameValue = lookupData(err, 'name');
  const messageValue = lookupData(err, 'message');
  const stackValue = ownData(err, 'stack');
  const t = tag(st, 'error');
  let bytes = 17;
  bytes += errorStringField(st, t, 'name', typeof nameValue === 'string' ? nameValue : 'Error');
  bytes += errorStringField(st, t, 'message', typeof messageValue === 'string' ? messageValue : '');
  if (typeof stackValue === 'string') bytes += errorStringField(st, t, 'stack', stackValue);
  if (!charge(st, bytes)) return NO_FIT;
  st.stack[depth] = err;
  st.stepKind[depth] = STEP_KEY;

  const causeDesc = ObjectGetOwnPropertyDescriptor(err, 'cause');
  const errors = ownData(err, 'errors');
  const hasErrors = ArrayIsArray(errors);
  const skip = hasErrors ? ERROR_OWN_FIELDS : ERROR_FIELDS_BUT_ERRORS;
  const keys = ObjectKeys(err);
  let hasProps = false;
  for (let i = 0; i < keys.length && !hasProps; i++) hasProps = skip[keys[i]] !== true;

  // Optional fields in order; a field that no longer fits carries the size marker and ends the error.
  if (causeDesc !== undefined) {
    if (st.exhausted) return t;
    st.stepKey[depth] = 'cause';
    const cause = charge(st, 9) ? encDescribed(st, causeDesc, depth + 1) : NO_FIT;
    t.cause = cause === NO_FIT ? sizeMarker(st, undefined) : cause;
    if (cause === NO_FIT) return t;
  }
  if (hasErrors) {
    if (st.exhausted) return t;
    st.stepKind[depth] = STEP_KEY;
    st.stepKey[depth] = 'errors';
    let list = NO_FIT;
    if (charge(st, 10)) list = depth + 1 > st.maxDepth ? depthMarker(st, 'Array') : encArray(st, errors, depth + 1);
    t.errors = list === NO_FIT ? sizeMarker(st, undefined) : list;
    if (list === NO_FIT) return t;
  }
  if (hasProps) {
    if (st.exhausted) return t;
    const props = charge(st, 9) ? encPlainBody(st, err, depth, skip) : NO_FIT;
    t.props = props === NO_FIT ? sizeMarker(st, undefined) : props;
  }
  return t;
}
