/**
 * Boolean fields stored as the bits of one integer field, `bits`, for the classes that exist
 * once per connection: eleven booleans cost 88 bytes as fields (Node runs V8 without pointer
 * compression: 8 bytes a field) and 8 as bits. The class declares each flag as a field with
 * `declare` (no storage), and this module defines it on the prototype as a getter and setter, so
 * the code reads and assigns `this.closed` as before. Node's own stream state does the same with
 * its `kState` bit field.
 *
 * @module
 */

/** What a class with flags stores them in. */
export interface HasBits {
  bits: number;
}

/**
 * Defines each of `names` on `proto` as a boolean accessor over bit `i` of `this.bits` (at most
 * 31 flags). Call once, right after the class.
 */
export function defineFlags(proto: HasBits, names: readonly string[]): void {
  if (names.length > 31) throw new RangeError("at most 31 flags fit in one integer");
  names.forEach((name, i) => {
    const bit = 1 << i;
    Object.defineProperty(proto, name, {
      get(this: HasBits): boolean {
        return (this.bits & bit) !== 0;
      },
      set(this: HasBits, on: boolean) {
        this.bits = on ? this.bits | bit : this.bits & ~bit;
      },
      configurable: false,
      enumerable: false,
    });
  });
}
