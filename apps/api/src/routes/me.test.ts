import { describe, expect } from 'vitest'
import { test } from '../testing.js'

describe('GET /api/me', () => {
  test('returns the signed-in user', async ({ api }) => {
    const user = await api.newUser()
    const res = await api.call('/api/me', { cookie: user.cookie })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { user: { id: string; status: string } }
    expect(body.user).toMatchObject({ id: user.id, status: 'active' })
  })

  test('401 without a session', async ({ api }) => {
    const res = await api.call('/api/me')
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: 'sign in first' } })
  })
})
