import { PERMISSION_NAMES } from '@dormant/core'
import { createUser, findLoginByEmail } from '@dormant/db'
import { hashPassword } from './auth/passwords.js'
import type { Deps } from './deps.js'

/**
 * Creates the admin named by ADMIN_EMAIL/ADMIN_PASSWORD when no user has that email. API
 * processes starting together on an empty database may all get past the check: the
 * database's unique email lets one create the admin, and the others get `duplicate_email`.
 */
export const ensureAdmin = async (deps: Pick<Deps, 'db' | 'config' | 'log'>) => {
  const { ADMIN_EMAIL: email, ADMIN_PASSWORD: password } = deps.config
  if (!email || !password || (await findLoginByEmail(deps.db, email))) return
  const result = await createUser(deps.db, {
    email,
    passwordHash: await hashPassword(password),
    name: 'Admin',
    role: 'admin',
    permissions: PERMISSION_NAMES,
  })
  if (!('error' in result))
    deps.log.info({ userId: result.user.id, email: result.user.email }, 'created the bootstrap admin')
}
