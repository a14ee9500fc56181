import { PERMISSION_NAMES, type Permission } from '@dormant/core'
import { z } from '@hono/zod-openapi'

export const ErrorSchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  })
  .openapi('Error')

export const UserSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    role: z.enum(['user', 'admin']),
    status: z.enum(['active', 'hibernating']),
    goal: z.number(),
    permissions: z.array(z.string()),
    hibernation: z.object({ id: z.string(), startedAt: z.string(), endsAt: z.string() }).nullable(),
    version: z.number(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('User')

export const UserResponse = z.object({ user: UserSchema })

export const TransactionSchema = z
  .object({ id: z.string(), type: z.string(), details: z.record(z.string(), z.unknown()), createdAt: z.string() })
  .openapi('Transaction')

export const PermissionName = z
  .string()
  .refine((name): name is Permission => (PERMISSION_NAMES as readonly string[]).includes(name), {
    message: `unknown permission; the catalogue is ${PERMISSION_NAMES.join(', ')}`,
  })
  .openapi({ enum: [...PERMISSION_NAMES] })

export const UserIdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'id', in: 'path' } }),
})

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
})

/** The error responses every authenticated route can give. */
export const authErrors = {
  401: errorResponse('No session, or it expired'),
  403: errorResponse('Not allowed'),
}

export const errors = {
  400: errorResponse('Invalid JSON or failed validation'),
  404: errorResponse('Unknown id'),
  409: errorResponse('State conflict'),
  413: errorResponse('Body larger than 64 KiB'),
  415: errorResponse('Body is not application/json'),
  429: errorResponse('Too many attempts'),
}

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
})
