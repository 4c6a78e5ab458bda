// The server-side rendering workload, shared by every contender: a product
// listing page of ~50 KiB of HTML rendered per request from data, with
// preact's `h` and preact-render-to-string's `renderToString`, which the
// caller passes in (Deno imports them as pinned `npm:` specifiers in
// ssr_deps.ts, Node from an npm-installed copy of the same versions), so
// every runtime renders with the same code.
//
// Per page request: parse the catalogue from JSON (as it would come from a
// database or an API), filter it by category, sort it, count the facets, and
// render 27 product cards in a full layout. Plain `h()` calls, no JSX, so no
// build step stands between the file and either runtime.

/** Products in the catalogue. */
const PRODUCTS = 240;
/** Products on one page. */
const PER_PAGE = 27;

const CATEGORIES = [
  "Kitchen",
  "Garden",
  "Outdoor",
  "Office",
  "Lighting",
  "Storage",
  "Textiles",
  "Tools",
];
const BRANDS = ["Nordwik", "Aster & Co", "Fjell", "Lumo", "Orrery", "Tamsin"];
const COLORS = ["black", "white", "oak", "sage", "rust", "navy", "sand"];
const WORDS = (
  "sturdy light compact handmade recycled matte brushed woven modular " +
  "stackable foldable washable classic slim deep round oval tall quiet warm"
).split(" ");

// A small seeded generator (mulberry32), so every process builds the same
// catalogue.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The catalogue as JSON text, the way a page handler receives its data.
 *
 * @returns {string} PRODUCTS products, serialised.
 */
export function catalogueJson() {
  const next = random(20240901);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const products = [];
  for (let id = 1; id <= PRODUCTS; id++) {
    const words = Array.from({ length: 14 }, () => pick(WORDS));
    const price = 500 + Math.floor(next() * 50_000);
    products.push({
      id,
      sku: `SKU-${String(id * 7919).padStart(7, "0")}`,
      name: `${words[0]} ${words[1]} ${pick(CATEGORIES).toLowerCase()} piece`,
      brand: pick(BRANDS),
      category: pick(CATEGORIES),
      priceCents: price,
      listCents: next() < 0.3 ? Math.round(price * 1.25) : null,
      rating: Math.round(next() * 50) / 10,
      reviews: Math.floor(next() * 2_000),
      stock: Math.floor(next() * 40),
      colors: COLORS.filter(() => next() < 0.4),
      tags: words.slice(2, 2 + Math.floor(next() * 4)),
      description: `A ${words.slice(4, 10).join(", ")} piece & "more": ` +
        `${words.slice(10).join(" ")} <for> every room.`,
    });
  }
  return JSON.stringify(products);
}

/**
 * Builds the renderer over preact's `h`, `createContext` and `useContext`
 * and preact-render-to-string's `renderToString`.
 *
 * @param {{ h: Function, createContext: Function, useContext: Function,
 *   renderToString: Function }} lib The library.
 * @returns {{ page(n: number): string, product(id: number): string }} The
 *   HTML of listing page `n` and the JSON of product `id`.
 */
export function createSsr({ h, createContext, useContext, renderToString }) {
  const json = catalogueJson();
  const byId = new Map(JSON.parse(json).map((p) => [p.id, p]));
  const money = new Intl.NumberFormat("en-US", {
    style: "currency",
    currency: "EUR",
  });
  const count = new Intl.NumberFormat("en-US");
  // The shop's locale settings reach the components through a context, as
  // in an app; every price and count is formatted through it.
  const Locale = createContext({ money, count });

  const Icon = ({ name }) =>
    h(
      "svg",
      {
        class: `icon icon-${name}`,
        viewBox: "0 0 24 24",
        "aria-hidden": "true",
      },
      h("path", {
        d: name === "heart"
          ? "M12 21l-1.5-1.3C5.4 15.1 2 12.1 2 8.4 2 5.4 4.4 3 7.4 3c1.7 0 3.4.8 4.6 2.1C13.2 3.8 14.9 3 16.6 3 19.6 3 22 5.4 22 8.4c0 3.7-3.4 6.7-8.5 11.3L12 21z"
          : "M7 18c-1.1 0-2 .9-2 2s.9 2 2 2 2-.9 2-2-.9-2-2-2zM1 2v2h2l3.6 7.6L5.2 14c-.1.3-.2.6-.2 1 0 1.1.9 2 2 2h12v-2H7.4c-.1 0-.2-.1-.2-.2v-.1l.9-1.7h7.4c.8 0 1.4-.4 1.7-1l3.6-6.5c.1-.2.2-.3.2-.5 0-.6-.4-1-1-1H5.2l-.9-2H1z",
      }),
    );

  const Price = ({ p }) => {
    const { money } = useContext(Locale);
    return h(
      "div",
      { class: "price" },
      h("strong", null, money.format(p.priceCents / 100)),
      p.listCents && h("s", null, money.format(p.listCents / 100)),
    );
  };

  const Reviews = ({ p }) => {
    const { count } = useContext(Locale);
    return h("span", { class: "reviews" }, `(${count.format(p.reviews)})`);
  };

  const Stars = ({ rating }) =>
    h(
      "span",
      { class: "stars", "aria-label": `${rating} out of 5` },
      [1, 2, 3, 4, 5].map((i) =>
        h("span", {
          class: rating >= i
            ? "star full"
            : rating > i - 1
            ? "star half"
            : "star",
        })
      ),
    );

  const Card = ({ p }) =>
    h(
      "li",
      { class: "card", "data-sku": p.sku },
      h(
        "a",
        { href: `/product/${p.id}`, class: "card-link" },
        h("img", {
          src: `/static/img/${p.id}.webp`,
          alt: p.name,
          width: 240,
          height: 240,
          loading: "lazy",
        }),
        h("h3", { class: "card-title" }, p.name),
      ),
      h("p", { class: "brand" }, p.brand),
      h("p", { class: "desc" }, p.description),
      h(Price, { p }),
      h(Stars, { rating: p.rating }),
      h(Reviews, { p }),
      h(
        "ul",
        { class: "swatches" },
        p.colors.map((c) =>
          h("li", { key: c, class: `swatch swatch-${c}`, title: c })
        ),
      ),
      h(
        "dl",
        { class: "specs" },
        [
          ["SKU", p.sku],
          ["Category", p.category],
          ["Colours", p.colors.length ? p.colors.join(", ") : "—"],
          ["Tags", p.tags.join(" · ") || "—"],
        ].flatMap(([k, v]) => [h("dt", { key: k }, k), h("dd", null, v)]),
      ),
      p.stock < 5
        ? h("p", { class: "stock low" }, `Only ${p.stock} left`)
        : h("p", { class: "stock" }, "In stock"),
      h(
        "button",
        { type: "button", class: "add", "data-id": p.id },
        h(Icon, { name: "cart" }),
        " Add to basket",
      ),
      h(
        "button",
        { type: "button", class: "save", "aria-label": "Save" },
        h(Icon, { name: "heart" }),
      ),
    );

  const Facets = ({ products }) => {
    const brands = new Map();
    for (const p of products) {
      brands.set(p.brand, (brands.get(p.brand) ?? 0) + 1);
    }
    return h(
      "aside",
      { class: "facets" },
      h("h2", null, "Brand"),
      h(
        "ul",
        null,
        [...brands].sort().map(([brand, n]) =>
          h(
            "li",
            { key: brand },
            h(
              "label",
              null,
              h("input", { type: "checkbox", name: "brand", value: brand }),
              ` ${brand} (${n})`,
            ),
          )
        ),
      ),
    );
  };

  const Page = ({ n, products, category }) =>
    h(
      "html",
      { lang: "en" },
      h(
        "head",
        null,
        h("meta", { charset: "utf-8" }),
        h("title", null, `${category} — page ${n} — Ringpool Home`),
        h("link", { rel: "stylesheet", href: "/static/app.css" }),
        // Structured data for search engines, as shops embed it.
        h("script", {
          type: "application/ld+json",
          dangerouslySetInnerHTML: {
            __html: JSON.stringify({
              "@context": "https://schema.org",
              "@type": "ItemList",
              itemListElement: products.slice(0, PER_PAGE).map((p, i) => ({
                "@type": "ListItem",
                position: i + 1,
                url: `/product/${p.id}`,
                name: p.name,
              })),
            }),
          },
        }),
      ),
      h(
        "body",
        null,
        h(
          "header",
          { class: "top" },
          h("a", { href: "/", class: "logo" }, "Ringpool Home"),
          h(
            "nav",
            null,
            h(
              "ul",
              null,
              CATEGORIES.map((c) =>
                h(
                  "li",
                  { key: c, class: c === category ? "active" : undefined },
                  h("a", { href: `/c/${c.toLowerCase()}` }, c),
                )
              ),
            ),
          ),
        ),
        h(
          "main",
          null,
          h("h1", null, `${category}: ${products.length} products`),
          h(Facets, { products }),
          h(
            "ul",
            { class: "grid" },
            products.slice(0, PER_PAGE).map((p) => h(Card, { key: p.id, p })),
          ),
        ),
        h("footer", null, h("p", null, "© Ringpool Home. Prices include VAT.")),
      ),
    );

  return {
    page(n) {
      // The data arrives as text, as from a database or an API.
      const all = JSON.parse(json);
      const category = CATEGORIES[n % CATEGORIES.length];
      const products = all.filter((p) =>
        p.category === category || (p.id + n) % 3 === 0
      )
        .sort((a, b) =>
          n % 2 ? a.priceCents - b.priceCents : b.rating - a.rating
        );
      return "<!doctype html>" +
        renderToString(
          h(
            Locale.Provider,
            { value: { money, count } },
            h(Page, { n, products, category }),
          ),
        );
    },
    product(id) {
      const p = byId.get(((id % PRODUCTS) + PRODUCTS) % PRODUCTS + 1);
      return JSON.stringify({
        id: p.id,
        name: p.name,
        price: p.priceCents,
        stock: p.stock,
      });
    },
  };
}
