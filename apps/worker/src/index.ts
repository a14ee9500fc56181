import { createLogger, DeploymentClash } from '@dormant/core'
import { loadWorkerConfig } from './env.js'
import { startWorker } from './worker.js'

const config = loadWorkerConfig()
const log = createLogger('worker', config.LOG_LEVEL)
const running = await startWorker(config, log, { onClash: () => process.exit(1) }).catch((err) => {
  if (!(err instanceof DeploymentClash)) throw err
  log.fatal(err.message)
  process.exit(1)
})

const shutdown = async (signal: string) => {
  log.info({ signal }, 'shutting down; finishing in-flight jobs')
  await running.stop()
  log.info('stopped')
  process.exit(0)
}
process.once('SIGTERM', () => void shutdown('SIGTERM'))
process.once('SIGINT', () => void shutdown('SIGINT'))
