/**
 * A small seeded PRNG (sfc32). Every random decision of a campaign comes from one seed;
 * each actor forks its own stream by label, so one actor's timing never shifts another's
 * choices and a replay makes the same decisions in the same order per actor.
 */
export type Rng = {
  /** A float in [0, 1). */
  next(): number
  /** An integer in [min, max]. */
  int(min: number, max: number): number
  pick<T>(items: readonly T[]): T
  chance(p: number): boolean
  /** One of `items`, each as likely as its weight. */
  weighted<T>(items: readonly (readonly [number, T])[]): T
  /** An independent stream for `label`, derived from this one's seed. */
  fork(label: string): Rng
}

const hash = (text: string, seed: number) => {
  let h = seed ^ 0x9e3779b9
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x85ebca6b) ^ (h >>> 13)
  return h >>> 0
}

export const createRng = (seed: number): Rng => {
  let a = seed >>> 0
  let b = hash('b', seed)
  let c = hash('c', seed)
  let d = 1
  const next = () => {
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  for (let i = 0; i < 12; i++) next()
  const rng: Rng = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list')
      return items[Math.floor(next() * items.length)] as (typeof items)[number]
    },
    chance: (p) => next() < p,
    weighted: (items) => {
      const total = items.reduce((sum, [w]) => sum + w, 0)
      let roll = next() * total
      for (const [w, item] of items) {
        roll -= w
        if (roll < 0) return item
      }
      const last = items.at(-1)
      if (!last) throw new Error('weighted pick from an empty list')
      return last[1]
    },
    fork: (label) => createRng(hash(label, seed)),
  }
  return rng
}
