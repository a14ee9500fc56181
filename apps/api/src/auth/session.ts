import type { Permission } from '@dormant/core'
import { findSession } from '@dormant/db'
import type { Context } from 'hono'
import { deleteCookie, setCookie } from 'hono/cookie'
import { createMiddleware } from 'hono/factory'
import type { AppEnv, Session } from '../context.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { hashToken } from './tokens.js'

export const SESSION_COOKIE = 'dormant_session'

export const setSessionCookie = (c: Context, token: string, deps: Pick<Deps, 'config'>) =>
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'Lax',
    path: '/',
    secure: deps.config.COOKIE_SECURE,
    maxAge: Math.floor(deps.config.SESSION_TTL_MS / 1000),
  })

export const clearSessionCookie = (c: Context, deps: Pick<Deps, 'config'>) =>
  deleteCookie(c, SESSION_COOKIE, { path: '/', secure: deps.config.COOKIE_SECURE })

const SESSION_COOKIE_VALUE = new RegExp(`(?:^|;)\\s*${SESSION_COOKIE}\\s*=\\s*"?([^";]*)`)

/**
 * The session cookie's value, as Hono's getCookie reads it (quotes stripped, %-escapes
 * decoded) but without building its parser per request: every authenticated request pays this.
 */
const sessionToken = (c: Context<AppEnv>) => {
  const header = c.req.header('cookie')
  const raw = header ? SESSION_COOKIE_VALUE.exec(header)?.[1]?.trim() : undefined
  if (!raw?.includes('%')) return raw
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/** Reads the session and its user from the DB on every request: no grant is cached. */
export const loadSession = async (c: Context<AppEnv>, deps: Pick<Deps, 'db'>): Promise<Session | null> => {
  const token = sessionToken(c)
  if (!token || token.length > 128) return null
  return findSession(deps.db, hashToken(token))
}

export const requireSession = (deps: Pick<Deps, 'db'>) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const session = await loadSession(c, deps)
    if (!session) throw new AppError('unauthorized', 'sign in first')
    c.set('session', session)
    await next()
  })

export const requireAdmin = (deps: Pick<Deps, 'db'>) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const session = await loadSession(c, deps)
    if (!session) throw new AppError('unauthorized', 'sign in first')
    if (session.user.role !== 'admin') throw new AppError('forbidden', 'admins only')
    c.set('session', session)
    await next()
  })

/** Admins hold every permission; everyone else holds what their user row says right now. */
export const assertPermission = (session: Session, permission: Permission) => {
  if (session.user.role === 'admin' || session.user.permissions.includes(permission)) return
  throw new AppError('forbidden', `missing permission ${permission}`, { permission })
}
