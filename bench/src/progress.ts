const tty = Boolean(process.stdout.isTTY)
const started = performance.now()

const stamp = () => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s`

/**
 * One line per scenario step: rewritten in place on a terminal, plain lines otherwise
 * (CI logs), where intermediate updates are throttled so the log stays short.
 */
export const step = (label: string) => {
  let lastPlain = 0
  const show = (text: string, final: boolean) => {
    const line = `${stamp()}  ${label}${text ? ` — ${text}` : ''}`
    if (tty) process.stdout.write(`\r\x1b[2K${line}${final ? '\n' : ''}`)
    else if (final || performance.now() - lastPlain > 5000) {
      lastPlain = performance.now()
      process.stdout.write(`${line}\n`)
    }
  }
  show('…', false)
  return {
    update: (text: string) => show(text, false),
    done: (text = 'done') => show(text, true),
  }
}

export type Step = ReturnType<typeof step>

/** Runs `fn` as a step, showing its result (or failure) on the step's line. */
export const withStep = async <T>(label: string, fn: (s: Step) => Promise<T>, summary?: (value: T) => string) => {
  const s = step(label)
  try {
    const value = await fn(s)
    s.done(summary ? summary(value) : 'done')
    return value
  } catch (err) {
    s.done(`FAILED: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`)
    throw err
  }
}

export const note = (text: string) => process.stdout.write(`${text}\n`)
