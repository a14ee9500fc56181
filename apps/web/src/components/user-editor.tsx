import type { Permission, PermissionInfo, UserJson } from '@dormant/client'
import { useEffect, useState } from 'preact/hooks'
import { api, errorMessage } from '../api.js'
import { Countdown } from './countdown.js'

const UNITS = { seconds: 1000, minutes: 60_000, hours: 3_600_000, days: 86_400_000 } as const
type Unit = keyof typeof UNITS

type Props = { user: UserJson; catalogue: readonly PermissionInfo[]; onClose: () => void }

/** Permissions and hibernation of one user; shows the user's live state. */
export const UserEditor = ({ user, catalogue, onClose }: Props) => {
  // null = untouched: the checkboxes follow the live permissions until the admin edits them.
  const [draft, setDraft] = useState<Permission[] | null>(null)
  const [amount, setAmount] = useState('3')
  const [unit, setUnit] = useState<Unit>('days')
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null)
  useEffect(() => {
    setDraft(null)
    setMessage(null)
  }, [user.id])

  const checked = draft ?? user.permissions
  const toggle = (name: Permission, on: boolean) =>
    setDraft((on ? [...checked, name] : checked.filter((p) => p !== name)).sort())

  const run = async (call: () => Promise<unknown>, done: string) => {
    setBusy(true)
    setMessage(null)
    try {
      await call()
      setMessage({ text: done, error: false })
      return true
    } catch (err) {
      setMessage({ text: errorMessage(err), error: true })
      return false
    } finally {
      setBusy(false)
    }
  }

  const save = async (e: Event) => {
    e.preventDefault()
    if (await run(() => api.setPermissions(user.id, checked), 'Permissions saved.')) setDraft(null)
  }
  const start = (e: Event) => {
    e.preventDefault()
    void run(() => api.startHibernation(user.id, Math.round(Number(amount) * UNITS[unit])), 'Hibernation started.')
  }

  return (
    <section class="card" aria-labelledby="editor-heading" data-testid="user-editor">
      <div class="card-head">
        <h2 id="editor-heading">{user.email}</h2>
        <button type="button" class="button-quiet" onClick={onClose}>
          Close
        </button>
      </div>
      <p>
        <span class={`pill pill-${user.status}`}>{user.status}</span> <span class="muted">goal {user.goal}</span>
      </p>

      <form class="stack" onSubmit={save}>
        <fieldset>
          <legend>Permissions</legend>
          {catalogue.map((p) => (
            <div class="check" key={p.name}>
              <input
                id={`perm-${p.name}`}
                type="checkbox"
                checked={checked.includes(p.name)}
                aria-describedby={`perm-${p.name}-desc`}
                onChange={(e) => toggle(p.name, e.currentTarget.checked)}
              />
              <label for={`perm-${p.name}`}>{p.name}</label>
              <span id={`perm-${p.name}-desc`} class="muted">
                {p.description}
              </span>
            </div>
          ))}
        </fieldset>
        <button type="submit" disabled={busy || draft === null}>
          Save permissions
        </button>
      </form>

      <h3>Hibernation</h3>
      {user.hibernation ? (
        <div class="stack">
          <p>
            Wakes in <Countdown endsAt={user.hibernation.endsAt} />
          </p>
          <button
            type="button"
            class="button-secondary"
            disabled={busy}
            onClick={() => run(() => api.cancelHibernation(user.id), 'Woken up.')}
          >
            Wake now
          </button>
        </div>
      ) : (
        <form class="inline-form" onSubmit={start}>
          <label>
            Duration
            <input
              type="number"
              min="1"
              step="any"
              required
              value={amount}
              onInput={(e) => setAmount(e.currentTarget.value)}
            />
          </label>
          <label>
            Unit
            <select value={unit} onChange={(e) => setUnit(e.currentTarget.value as Unit)}>
              {Object.keys(UNITS).map((u) => (
                <option key={u} value={u}>
                  {u}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={busy}>
            Start hibernation
          </button>
        </form>
      )}
      <p class={message?.error ? 'error' : 'muted'} role="status">
        {message?.text}
      </p>
    </section>
  )
}
