import { readFileSync } from 'node:fs'

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLK_TCK = 100

export type ProcSample = { t: number; cpuSeconds: number; rssBytes: number }

/** CPU time (user + system) of one process, from /proc/<pid>/stat. */
export const cpuSeconds = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name may hold spaces; fields start after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}

/** Resident set size of one process, from VmRSS in /proc/<pid>/status. */
export const rssBytes = (pid: number) => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) * 1024 : 0
}

export const sample = (pid: number): ProcSample => ({
  t: performance.now(),
  cpuSeconds: cpuSeconds(pid),
  rssBytes: rssBytes(pid),
})

const children = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/**
 * The process that runs the server code. `tsx` starts it as a child of its own CLI
 * process, so we follow the chain down to the leaf and measure that one.
 */
export const serverPid = (rootPid: number) => {
  let pid = rootPid
  for (;;) {
    const next = children(pid)[0]
    if (next === undefined) return pid
    pid = next
  }
}

/** Samples a process every `intervalMs` until stopped; returns the samples. */
export const sampler = (pid: number, intervalMs = 1000) => {
  const samples: ProcSample[] = [sample(pid)]
  const timer = setInterval(() => {
    try {
      samples.push(sample(pid))
    } catch {
      clearInterval(timer)
    }
  }, intervalMs)
  return {
    samples,
    stop() {
      clearInterval(timer)
      samples.push(sample(pid))
      return samples
    },
  }
}

/** The open-file limit of this process (what `ulimit -n` says). */
export const openFileLimit = () => {
  const match = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))
  return match ? Number(match[1]) : Number.POSITIVE_INFINITY
}
