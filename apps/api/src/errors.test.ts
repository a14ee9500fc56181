import { createLogger } from '@dormant/core'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { describe, expect, test } from 'vitest'
import { AppError, toErrorResponse } from './errors.js'

const respond = async (err: Error) => {
  const app = new Hono()
  app.onError(toErrorResponse(createLogger('errors-test', 'silent')))
  app.get('/', () => {
    throw err
  })
  const res = await app.request('/')
  return {
    status: res.status,
    body: (await res.json()) as { error: { code: string; message: string; details?: unknown } },
  }
}

describe('toErrorResponse', () => {
  test('an AppError becomes its status and our shape, with details only when given', async () => {
    expect(await respond(new AppError('conflict', 'already hibernating'))).toEqual({
      status: 409,
      body: { error: { code: 'conflict', message: 'already hibernating' } },
    })
    expect(await respond(new AppError('forbidden', 'no', { permission: 'x' }))).toEqual({
      status: 403,
      body: { error: { code: 'forbidden', message: 'no', details: { permission: 'x' } } },
    })
  })

  test("Hono's HTTPException keeps its status and gets the generic code of that status", async () => {
    const cases: [ContentfulStatusCode, string, string][] = [
      [400, 'Malformed JSON in request body', 'invalid_json'],
      [400, 'bad things', 'validation_failed'],
      [401, 'Unauthorized', 'unauthorized'],
      [403, 'Forbidden', 'forbidden'],
      [404, 'Not Found', 'not_found'],
      [413, 'Payload Too Large', 'payload_too_large'],
      [415, 'Unsupported Media Type', 'unsupported_media_type'],
      [503, 'down', 'unavailable'],
    ]
    for (const [status, message, code] of cases) {
      expect(await respond(new HTTPException(status, { message }))).toEqual({
        status,
        body: { error: { code, message } },
      })
    }
    const teapot = await respond(new HTTPException(418, { message: '' }))
    expect(teapot.status).toBe(418)
    expect(teapot.body.error.code).toBe('internal')
    expect(teapot.body.error.message.length).toBeGreaterThan(0)
  })

  test('a database that cannot serve (busy past the timeout, closed, disk trouble) is a 503, even wrapped', async () => {
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
    for (const err of [
      busy,
      new Error('Failed query: select 1', { cause: busy }),
      new TypeError('The database connection is not open'),
    ]) {
      expect(await respond(err)).toEqual({
        status: 503,
        body: { error: { code: 'unavailable', message: 'the database is unavailable; try again shortly' } },
      })
    }
    const bug = Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_UNIQUE' })
    expect((await respond(bug)).status).toBe(500)
  })

  test('a PostgreSQL server that is gone, refusing, shutting down or out of connections is a 503', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
    for (const err of [
      refused,
      new Error('Failed query: select 1', { cause: refused }),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('sorry, too many clients already'), { code: '53300' }),
      Object.assign(new Error('connection failure'), { code: '08006' }),
      new Error('Cannot use a pool after calling end on the pool'),
      new Error('Connection terminated unexpectedly'),
    ]) {
      expect((await respond(err)).status, err.message).toBe(503)
    }
    const bug = Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' })
    expect((await respond(bug)).status).toBe(500)
  })

  test('a value PostgreSQL cannot store (NUL in text or jsonb, a number out of range) is a 400, wrapped or not', async () => {
    const nul = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' })
    for (const err of [
      nul,
      new Error('Failed query: select * from users where id = $1', { cause: nul }),
      Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' }),
      Object.assign(new Error('value "99999999999999999999" is out of range for type bigint'), { code: '22003' }),
    ]) {
      const { status, body } = await respond(err)
      expect(status, err.message).toBe(400)
      expect(body.error.code).toBe('validation_failed')
      expect(body.error.message).not.toContain('UTF8')
    }
    const bug = Object.assign(new Error('invalid input syntax for type integer'), { code: '22P02' })
    expect((await respond(bug)).status).toBe(500)
  })

  test('anything else is a 500 whose message is not leaked', async () => {
    expect(await respond(new Error('SQLITE_CORRUPT: secret path /var/lib/x'))).toEqual({
      status: 500,
      body: { error: { code: 'internal', message: 'internal server error' } },
    })
  })
})
