/**
 * The permission catalogue. Names are stable identifiers that other software checks;
 * adding one is safe, renaming or removing one is a breaking change.
 */
export const PERMISSIONS = [
  { name: 'hibernation.self', description: 'Start and cancel their own hibernation' },
  { name: 'transactions.read', description: 'Read their own transaction history' },
  { name: 'reports.view', description: 'View reports' },
  { name: 'reports.export', description: 'Export reports' },
  { name: 'billing.manage', description: 'Manage billing details' },
] as const

export type Permission = (typeof PERMISSIONS)[number]['name']

export const PERMISSION_NAMES: readonly Permission[] = PERMISSIONS.map((p) => p.name)

/** Granted to a user created without an explicit list. */
export const DEFAULT_PERMISSIONS: readonly Permission[] = ['hibernation.self', 'transactions.read']

export const isPermission = (name: string): name is Permission => (PERMISSION_NAMES as readonly string[]).includes(name)
