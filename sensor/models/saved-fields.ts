// Saving and restoring the JS side of detection (the model engine's windows,
// throttles and tails, the meta models' memory, the detector's peer groups)
// for a snapshot: each stateful class names the fields that are its state,
// and these two copy them out and back. Typed arrays are copied on the way
// out (the live ones keep changing while a snapshot is written) and checked
// on the way in: a saved field of another type or length is refused, never
// half-applied.

import { ImageMismatchError } from '../core/core-image.ts';

export class SavedStateError extends Error {}
/** Saved under other settings (another --memory, another build): sound, but not for this run. */
export class SavedSettingsError extends SavedStateError {}

/** Restore a saved detection state with `load`, any failure (v8.deserialize's too) as a SavedStateError. */
export function restoring<T>(load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof SavedStateError) throw e;
    if (e instanceof ImageMismatchError) throw new SavedSettingsError(e.message);
    throw new SavedStateError(`the saved detection state cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
}

type Fields = Record<string, unknown>;

/** The named fields of obj, typed arrays and Maps copied (structured-cloneable). */
export function saveFields(obj: object, names: readonly string[]): Fields {
  const o = obj as Fields;
  const out: Fields = {};
  for (const n of names) {
    const v = o[n];
    out[n] = ArrayBuffer.isView(v) ? (v as Float64Array).slice() : v instanceof Map ? new Map(v) : Array.isArray(v) ? [...v] : v;
  }
  return out;
}

/** Put saved fields back into obj, each of the type obj holds there (`what` names obj in errors). */
export function loadFields(obj: object, saved: unknown, names: readonly string[], what: string): void {
  if (typeof saved !== 'object' || saved === null) throw new SavedStateError(`${what}: no saved state`);
  const s = saved as Fields, o = obj as Fields;
  for (const n of names) {
    const have = o[n], got = s[n];
    if (!(n in s)) throw new SavedStateError(`${what}: saved state lacks ${n}`);
    const same = ArrayBuffer.isView(have)
      ? ArrayBuffer.isView(got) && (got as object).constructor === (have as object).constructor
      : have instanceof Map ? got instanceof Map
      : Array.isArray(have) ? Array.isArray(got)
      : typeof got === typeof have;
    if (!same) throw new SavedStateError(`${what}: saved ${n} is not what this version keeps there`);
  }
  // copies: v8.deserialize may hand back typed arrays over the serialized
  // bytes themselves, so a store restored twice from one buffer would share
  // (and corrupt) its arrays with the first
  for (const n of names) o[n] = ArrayBuffer.isView(s[n]) ? (s[n] as Float64Array).slice() : s[n];
}
