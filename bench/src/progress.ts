const tty = Boolean(process.stdout.isTTY)
const started = performance.now()

const stamp = () => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s`

/** Lines of the steps still running; on a terminal they are redrawn in place below the finished ones. */
const live: { label: string; text: string; fail(message: string): void }[] = []
let drawn = 0

const redraw = (finished?: string) => {
  const width = process.stdout.columns || 120
  let out = drawn ? `\x1b[${drawn}A` : ''
  out += '\x1b[0J'
  if (finished) out += `${finished}\n`
  for (const line of live) out += `${line.text.slice(0, width - 1)}\n`
  drawn = live.length
  process.stdout.write(out)
}

/**
 * One line per scenario step: rewritten in place on a terminal (several steps may run at
 * once), plain lines otherwise (CI logs), where updates are throttled so the log stays short.
 */
export const step = (label: string) => {
  let lastPlain = 0
  const show = (text: string, final: boolean) => {
    line.text = `${stamp()}  ${label}${text ? ` — ${text}` : ''}`
    if (tty) {
      if (final) live.splice(live.indexOf(line), 1)
      redraw(final ? line.text : undefined)
    } else if (final || performance.now() - lastPlain > 5000) {
      lastPlain = performance.now()
      process.stdout.write(`${line.text}\n`)
    }
  }
  const line = { label, text: '', fail: (message: string) => show(`FAILED: ${message}`, true) }
  live.push(line)
  show('…', false)
  return {
    update: (text: string) => show(text, false),
    done: (text = 'done') => show(text, true),
  }
}

export type Step = ReturnType<typeof step>

export const note = (text: string) => {
  if (tty && drawn) redraw(text)
  else process.stdout.write(`${text}\n`)
}

/** Ends the still-running steps whose label starts with `prefix` (a scenario that threw). */
export const failSteps = (prefix: string, message: string) => {
  for (const line of live.filter((l) => l.label.startsWith(prefix))) line.fail(message)
}
