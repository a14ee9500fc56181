import os from 'node:os'

/** Facts recorded with every run: figures mean little without the machine they came from. */
export const machine = () => ({
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  node: process.version,
  totalMemoryBytes: os.totalmem(),
  platform: `${os.platform()} ${os.release()}`,
  loadAverage: os.loadavg(),
})
