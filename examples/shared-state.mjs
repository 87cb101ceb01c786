// Example shared state for vmgate (`vmgate serve --shared examples/shared-state.mjs`).
//
// Every session sees this module's default export as `shared`: the same
// deep-frozen object in every session, built once in its own locked-down
// realm. Shared state is an ES module without imports: it runs with no host
// access (no require, no fs, no network), and its code must be synchronous.
// Keep helpers pure: they run inside whichever session calls them, under that
// session's time budget.
//
// Try it from a session:
//   shared.convert(100, 'USD', 'EUR')
//   shared.findProduct('KB-102')
//   shared.priceIn('KB-102', 'GBP')
//   shared.search('mouse').map((p) => p.name)
//   shared.catalog.products.length

/** Exchange rates against the euro (1 EUR = rate × currency). */
const rates = {
  EUR: 1,
  USD: 1.0842,
  GBP: 0.8521,
  CHF: 0.9563,
  JPY: 161.87,
  SEK: 11.412,
};

const products = [
  {
    id: 'KB-101',
    name: 'Mechanical keyboard, 87 keys',
    category: 'keyboards',
    price: { amount: 89.0, currency: 'EUR' },
  },
  {
    id: 'KB-102',
    name: 'Mechanical keyboard, full size',
    category: 'keyboards',
    price: { amount: 109.0, currency: 'EUR' },
  },
  { id: 'MS-201', name: 'Wireless mouse', category: 'mice', price: { amount: 29.9, currency: 'EUR' } },
  { id: 'MS-202', name: 'Vertical ergonomic mouse', category: 'mice', price: { amount: 49.5, currency: 'EUR' } },
  { id: 'MN-301', name: '27" monitor, 1440p', category: 'monitors', price: { amount: 279.0, currency: 'EUR' } },
  { id: 'MN-302', name: '32" monitor, 4K', category: 'monitors', price: { amount: 449.0, currency: 'EUR' } },
  { id: 'HS-401', name: 'USB headset', category: 'audio', price: { amount: 59.0, currency: 'EUR' } },
  { id: 'DK-501', name: 'USB-C dock, 11 ports', category: 'docks', price: { amount: 159.0, currency: 'EUR' } },
];

// Private index: reachable only through findProduct, so it needs no freezing.
const byId = new Map(products.map((p) => [p.id, p]));

function rateOf(currency) {
  const rate = rates[currency];
  if (typeof rate !== 'number') {
    throw new RangeError(`unknown currency ${String(currency)} (known: ${Object.keys(rates).join(', ')})`);
  }
  return rate;
}

/** Rounds to the currency's minor unit (0 decimals for JPY, else 2). */
function round(amount, currency) {
  const digits = currency === 'JPY' ? 0 : 2;
  const factor = 10 ** digits;
  return Math.round(amount * factor) / factor;
}

/** Converts `amount` from one currency to another, rounded to the target's minor unit. */
function convert(amount, from, to) {
  if (typeof amount !== 'number' || !Number.isFinite(amount)) throw new TypeError('amount must be a finite number');
  return round((amount / rateOf(from)) * rateOf(to), to);
}

export default {
  catalog: {
    currencies: Object.keys(rates),
    categories: [...new Set(products.map((p) => p.category))].sort(),
    products,
  },
  rates,

  convert,

  /** The product with this id, or undefined. */
  findProduct(id) {
    return byId.get(id);
  },

  /** A product's price in another currency: `{ amount, currency }`. */
  priceIn(id, currency) {
    const product = byId.get(id);
    if (product === undefined) throw new RangeError(`no product ${String(id)}`);
    return { amount: convert(product.price.amount, product.price.currency, currency), currency };
  },

  /** Products whose name contains `text` (case-insensitive), optionally within a category. */
  search(text, category) {
    const needle = String(text).toLowerCase();
    return products.filter(
      (p) => p.name.toLowerCase().includes(needle) && (category === undefined || p.category === category),
    );
  },
};
