import { closeSync, openSync, writeSync } from 'node:fs';

/** The small shared state of the benchmarks that do not measure its size. */
export const TINY_SHARED_STATE = JSON.stringify({
  currencies: { EUR: 1, USD: 1.08 },
  greeting: 'hello',
  limits: [1, 2, 3],
});

export interface LargeSharedStateInfo {
  readonly file: string;
  readonly bytes: number;
  readonly records: number;
}

const CATEGORIES = ['tools', 'garden', 'kitchen', 'toys', 'books', 'audio', 'sports', 'office'];
const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF'];
const WAREHOUSES = ['BER-1', 'HAM-2', 'LYS-1', 'MAD-3', 'WAW-1', 'DUB-2'];
const WORDS = ['compact', 'heavy-duty', 'wireless', 'classic', 'eco', 'pro', 'mini', 'deluxe', 'travel', 'smart'];
const NOUNS = ['drill', 'kettle', 'lamp', 'speaker', 'backpack', 'chair', 'notebook', 'racket', 'planter', 'blender'];

/**
 * Writes a realistic shared-state JSON file of roughly `megabytes` MB: a
 * product catalog (`products`: records with nested price, stock, dimensions
 * and tag arrays) plus small lookup tables. Deterministic for a given size,
 * written in chunks so memory stays flat. Used by bench:sessions and bench:scale.
 */
export function writeLargeSharedState(file: string, megabytes: number): LargeSharedStateInfo {
  const target = Math.max(1, Math.round(megabytes * 1024 * 1024));
  const fd = openSync(file, 'w');
  let bytes = 0;
  let records = 0;
  let chunk = '';
  const write = (text: string, force = false): void => {
    chunk += text;
    if (force || chunk.length >= 1 << 20) {
      bytes += writeSync(fd, chunk);
      chunk = '';
    }
  };
  try {
    const header = {
      generatedBy: 'vmgate bench/lib/shared-state.ts',
      currencies: { EUR: 1, USD: 1.0842, GBP: 0.8521, CHF: 0.9563 },
      categories: CATEGORIES,
      warehouses: WAREHOUSES.map((code, i) => ({ code, city: code.slice(0, 3), dock: i + 1 })),
    };
    write(`${JSON.stringify(header).slice(0, -1)},"products":[`);
    const closing = ']}';
    // Estimate by characters: the generated text is ASCII, so characters = bytes.
    while (bytes + chunk.length + closing.length < target) {
      write((records === 0 ? '' : ',') + JSON.stringify(makeRecord(records)));
      records++;
    }
    write(closing, true);
  } finally {
    closeSync(fd);
  }
  return { file, bytes, records };
}

function makeRecord(i: number) {
  const h = hash(i);
  return {
    id: i,
    sku: `SKU-${String(i).padStart(8, '0')}`,
    name: `${WORDS[h % WORDS.length]} ${NOUNS[(h >>> 4) % NOUNS.length]} ${i}`,
    category: CATEGORIES[(h >>> 8) % CATEGORIES.length],
    price: { amount: ((h >>> 3) % 100_000) / 100, currency: CURRENCIES[(h >>> 12) % CURRENCIES.length] },
    stock: {
      warehouse: WAREHOUSES[(h >>> 16) % WAREHOUSES.length],
      quantity: (h >>> 5) % 500,
      reorder: (h & 7) === 0,
    },
    dimensions: { w: (h >>> 2) % 100, h: (h >>> 7) % 100, d: (h >>> 11) % 100, unit: 'cm' },
    tags: [`t${h % 13}`, `t${(h >>> 9) % 17}`],
    active: h % 11 !== 0,
    updatedAt: new Date(1_700_000_000_000 + i * 60_000).toISOString(),
  };
}

/** A small deterministic integer hash (xorshift-multiply), non-negative. */
function hash(i: number): number {
  let x = (i + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
