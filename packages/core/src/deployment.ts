import type { Redis } from 'ioredis'
import type { Logger } from './log.js'

/** Holds the identity of the deployment that owns a prefix. */
export const deploymentKey = (prefix: string) => `${prefix}:deployment`

/** How often a running process re-checks that the prefix is still its own (after a FLUSHALL, say). */
export const DEPLOYMENT_CHECK_MS = 3000

/**
 * A claim lapses this long after its deployment's last process stopped renewing it, so a
 * deployment that is gone (or a database that was recreated) does not hold the prefix forever.
 */
export const DEPLOYMENT_CLAIM_TTL_MS = 10 * DEPLOYMENT_CHECK_MS

/** The first deployment to arrive keeps (and renews) the prefix; everyone learns the owner in one round trip. */
const CLAIM = `local owner = redis.call('GET', KEYS[1])
if not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if owner == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return owner`

export class DeploymentClash extends Error {
  constructor(prefix: string, mine: string, owner: string, claimTtlMs = DEPLOYMENT_CLAIM_TTL_MS) {
    super(
      `REDIS_PREFIX "${prefix}" belongs to another deployment (identity ${owner}; this process's database says ${mine}). ` +
        'Two deployments, or an API and a worker that open different databases (check DATABASE_URL, or DB_PATH: a ' +
        'relative path depends on the working directory), share one Redis prefix. Give each deployment its own ' +
        'REDIS_PREFIX. ' +
        `(A claim of a deployment whose processes all stopped lapses ${claimTtlMs / 1000} s after the last one.)`,
    )
    this.name = 'DeploymentClash'
  }
}

/** Claims `prefix` for `deployment` unless another holds it; resolves with the owner. */
export const claimPrefix = async (redis: Redis, prefix: string, deployment: string, ttlMs = DEPLOYMENT_CLAIM_TTL_MS) =>
  String(await redis.eval(CLAIM, 1, deploymentKey(prefix), deployment, ttlMs))

export type DeploymentGuard = {
  /** The first claim: resolves once Redis answered, rejects with a `DeploymentClash`. */
  first: Promise<void>
  /** Claims again now; false (after `onClash` ran) when the prefix is another deployment's. */
  check(): Promise<boolean>
  stop(): void
}

/**
 * Keeps a process from acting on another deployment's jobs and messages: claims the prefix at
 * start, then re-claims every `DEPLOYMENT_CHECK_MS`, so a clash that appears later (a FLUSHALL,
 * then the other deployment first to claim) stops this process too. A Redis that is away only
 * delays the check.
 */
export const guardDeployment = (opts: {
  redis: Redis
  prefix: string
  deployment: string
  log: Logger
  onClash: (err: DeploymentClash) => void
  intervalMs?: number
  /** Tests only (`TEST_DEPLOYMENT_CLAIM_TTL_MS`): a shorter lapse than `DEPLOYMENT_CLAIM_TTL_MS`. */
  claimTtlMs?: number
}): DeploymentGuard => {
  const { redis, prefix, deployment, log, claimTtlMs } = opts
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const clash = async () => {
    const owner = await claimPrefix(redis, prefix, deployment, claimTtlMs)
    return owner === deployment ? undefined : new DeploymentClash(prefix, deployment, owner, claimTtlMs)
  }
  const check = async () => {
    const err = await clash()
    if (!err) return true
    if (!stopped) {
      stopped = true
      clearTimeout(timer)
      opts.onClash(err)
    }
    return false
  }
  const schedule = () => {
    if (stopped) return
    timer = setTimeout(() => {
      check().then(schedule, (err) => {
        log.debug({ err }, 'deployment check failed; will retry')
        schedule()
      })
    }, opts.intervalMs ?? DEPLOYMENT_CHECK_MS)
    timer.unref()
  }
  const first = clash().then((err) => {
    if (err) {
      stopped = true
      throw err
    }
    schedule()
  })
  return {
    first,
    check,
    stop: () => {
      stopped = true
      clearTimeout(timer)
    },
  }
}
