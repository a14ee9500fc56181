export type {
  Permission,
  Role,
  TransactionJson,
  UserJson,
  UserStatus,
  WebhookDeliveryJson,
} from '@dormant/core'
export * from './api.js'
export * from './errors.js'
export { backoffDelay, EVENT_TYPES } from './event-source.js'
export * from './session.js'
export * from './state.js'
export * from './stream.js'
