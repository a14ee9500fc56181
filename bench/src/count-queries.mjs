// Loaded into a server under test with NODE_OPTIONS=--import: counts every database statement
// the process executes (better-sqlite3's Statement run/get/all/iterate, pg's Client#query)
// and, on SIGUSR2, writes the count to $BENCH_QUERY_COUNT_FILE.<pid>. Counting in the server
// itself means "0 queries while idle" is observed, not assumed.
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const file = process.env.BENCH_QUERY_COUNT_FILE
if (file) {
  let count = 0
  const counting = (proto, methods) => {
    for (const method of methods) {
      const original = proto[method]
      proto[method] = function counted(...args) {
        count += 1
        return original.apply(this, args)
      }
    }
  }
  const require = createRequire(new URL('../../package.json', import.meta.url))
  try {
    const Database = require('better-sqlite3')
    const probe = new Database(':memory:')
    const proto = Object.getPrototypeOf(probe.prepare('select 1'))
    probe.close()
    counting(proto, ['run', 'get', 'all', 'iterate'])
  } catch {
    // better-sqlite3 not resolvable here (a wrapper process): nothing to count.
  }
  try {
    // A Pool's query runs its client's: each statement is counted once.
    counting(require('pg').Client.prototype, ['query'])
  } catch {
    // pg not resolvable here: nothing to count.
  }
  process.on('SIGUSR2', () => writeFileSync(`${file}.${process.pid}`, String(count)))
}
