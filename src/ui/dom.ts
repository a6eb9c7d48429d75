/** DOM building without a framework: `h('td', { class: 'num' }, text)`. */

export type Child = Node | string | number | null | undefined | false | readonly Child[]
type Attr = string | number | boolean | null | undefined | ((ev: Event) => void)

export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Readonly<Record<string, Attr>> | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  if (attrs !== null) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue
      if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v)
      else if (v === true) el.setAttribute(k, '')
      else el.setAttribute(k, String(v))
    }
  }
  append(el, children)
  return el
}

export function append (el: Node, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c as Node)
  }
}

/** A definition list from [term, value] pairs; pairs whose value is null are left out. */
export function fields (pairs: ReadonlyArray<readonly [string, Child]>): HTMLDListElement {
  return h('dl', { class: 'fields' }, pairs.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]))
}

/** A table: header cells and rows of cells (a cell is a Child, or [Child, class]). */
export function table (head: readonly string[], rows: ReadonlyArray<ReadonlyArray<Child | { readonly cell: Child, readonly class: string }>>, attrs: Readonly<Record<string, Attr>> = {}): HTMLTableElement {
  return h('table', attrs,
    h('thead', null, h('tr', null, head.map(x => h('th', null, x)))),
    h('tbody', null, rows.map(r => h('tr', null, r.map(c => {
      if (c !== null && typeof c === 'object' && 'cell' in c) return h('td', { class: c.class }, c.cell)
      return h('td', null, c as Child)
    })))))
}

export function section (title: string, ...children: Child[]): HTMLElement {
  return h('section', null, h('h2', null, title), ...children)
}

export function link (href: string, ...children: Child[]): HTMLAnchorElement {
  return h('a', { href }, ...children)
}
