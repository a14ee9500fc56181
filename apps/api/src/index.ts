import { createLogger, DeploymentClash } from '@dormant/core'
import { loadApiConfig } from './env.js'
import { startApi } from './server.js'

const config = loadApiConfig()
const log = createLogger('api', config.LOG_LEVEL)
const api = await startApi(config, log, { onClash: () => process.exit(1) }).catch((err) => {
  if (!(err instanceof DeploymentClash)) throw err
  log.fatal(err.message)
  process.exit(1)
})

const shutdown = async (signal: string) => {
  log.info({ signal }, 'shutting down')
  await api.stop()
  log.info('stopped')
  process.exit(0)
}
process.once('SIGTERM', () => void shutdown('SIGTERM'))
process.once('SIGINT', () => void shutdown('SIGINT'))
