/**
 * An ordered pipeline: `produce(i)` runs for several items at once (reads, hashing on other threads),
 * `consume` takes the results strictly in item order, in batches of those already done (writes,
 * index look-ups). At most `window` items are being produced or waiting, plus the `batch` being
 * consumed, which bounds the memory the items hold. On the first error, whatever is still running is let settle, then the error is
 * thrown: nothing is left writing into buffers or files after the pipeline returns.
 */
export interface OrderedOptions<T> {
  readonly count: number
  /** Items produced and not yet consumed, at most. */
  readonly window: number
  /** Items handed to one `consume` call, at most. */
  readonly batch: number
  readonly produce: (index: number) => Promise<T>
  /** Gets the next results in order; `first` is the index of items[0]. */
  readonly consume: (items: T[], first: number) => Promise<void>
}

interface Slot<T> { readonly promise: Promise<T>, done: boolean }

export async function ordered<T> (options: OrderedOptions<T>): Promise<void> {
  const { count, produce, consume } = options
  const window = Math.max(1, options.window)
  const batch = Math.max(1, options.batch)
  const slots: Array<Slot<T>> = []
  let next = 0
  let consumed = 0
  const fill = (): void => {
    while (next < count && slots.length < window) {
      const i = next++
      const promise = (async () => await produce(i))()
      const slot: Slot<T> = { promise, done: false }
      promise.then(() => { slot.done = true }, () => { slot.done = true })
      slots.push(slot)
    }
  }
  try {
    fill()
    while (slots.length > 0) {
      const items: T[] = [await slots[0]!.promise]
      slots.shift()
      while (items.length < batch && slots.length > 0 && slots[0]!.done) {
        items.push(await slots[0]!.promise)
        slots.shift()
      }
      const first = consumed
      consumed += items.length
      // Production goes on while this batch is consumed: window + batch items are held at most.
      fill()
      await consume(items, first)
    }
  } catch (err) {
    await Promise.allSettled(slots.map(async s => await s.promise))
    throw err
  }
}
