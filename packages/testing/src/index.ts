import './provided.js'

export * from './api-client.js'
export * from './balancer.js'
export * from './database.js'

export * from './ports.js'
export * from './process.js'
export * from './redis-server.js'
export * from './sse-client.js'
export * from './tcp-proxy.js'
export * from './temp.js'
export * from './wait.js'
export * from './webhook-receiver.js'
