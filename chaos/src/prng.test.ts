import { expect, test } from 'vitest'
import { createRng } from './prng.js'

const draw = (seed: number, label: string) => {
  const r = createRng(seed).fork(label)
  return Array.from({ length: 20 }, () => r.int(0, 1000))
}

test('one seed gives one sequence; forks are independent of each other and of the order they are made', () => {
  expect(draw(42, 'user1')).toEqual(draw(42, 'user1'))
  expect(draw(42, 'user1')).not.toEqual(draw(43, 'user1'))
  expect(draw(42, 'user1')).not.toEqual(draw(42, 'user2'))
  const root = createRng(42)
  root.next()
  root.fork('nemesis')
  const late = root.fork('user1')
  expect(Array.from({ length: 20 }, () => late.int(0, 1000))).toEqual(draw(42, 'user1'))
})

test('weighted picks follow their weights and never pick a zero weight', () => {
  const r = createRng(7)
  const counts = { a: 0, b: 0, c: 0 }
  for (let i = 0; i < 10_000; i++)
    counts[
      r.weighted([
        [1, 'a'],
        [3, 'b'],
        [0, 'c'],
      ] as const)
    ] += 1
  expect(counts.c).toBe(0)
  expect(counts.b / counts.a).toBeGreaterThan(2.5)
  expect(counts.b / counts.a).toBeLessThan(3.5)
})
