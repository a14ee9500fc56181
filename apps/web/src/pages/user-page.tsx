import { isApiError } from '@dormant/client'
import { useEffect, useState } from 'preact/hooks'
import { api, errorMessage } from '../api.js'
import { ConnectionBadge } from '../components/connection-badge.js'
import { Countdown } from '../components/countdown.js'
import { Layout } from '../components/layout.js'
import { TransactionList } from '../components/transaction-list.js'
import { useEventStream } from '../use-event-stream.js'

export const UserPage = () => {
  const { stream, state } = useEventStream('/api/events')
  const { user } = state
  const canReadHistory = user?.permissions.includes('transactions.read') ?? false
  const [historyError, setHistoryError] = useState<string | null>(null)
  const [actionError, setActionError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  // History once per stream (and again after a reset snapshot); new rows arrive as events.
  useEffect(() => {
    if (!stream || !canReadHistory) return
    let cancelled = false
    // Rows answered after a reset or a change of user are refused by the stream's epoch check.
    const epoch = state.epoch
    api.myTransactions().then(
      (rows) => !cancelled && stream.addTransactions(rows, epoch),
      (err) => !cancelled && setHistoryError(errorMessage(err)),
    )
    return () => {
      cancelled = true
    }
  }, [stream, canReadHistory, state.epoch])

  const act = async (call: () => Promise<unknown>) => {
    setBusy(true)
    setActionError(null)
    try {
      await call()
    } catch (err) {
      setActionError(isApiError(err, 'forbidden') ? 'You do not have permission to do that.' : errorMessage(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <Layout user={user}>
      <div class="page-head">
        <h1 tabIndex={-1}>{user ? `Hello, ${user.name || user.email}` : 'Your status'}</h1>
        <ConnectionBadge state={state.connection} />
      </div>
      {!user ? (
        <p class="muted" aria-busy="true">
          Connecting…
        </p>
      ) : (
        <div class="grid">
          <section class="card" aria-labelledby="status-heading">
            <h2 id="status-heading">Status</h2>
            <p class="status-line">
              <span class={`pill pill-${user.status}`} data-testid="user-status">
                {user.status}
              </span>
            </p>
            {user.hibernation && (
              <p>
                Wakes in <Countdown endsAt={user.hibernation.endsAt} />
              </p>
            )}
            <dl class="facts">
              <dt>Goal</dt>
              <dd data-testid="user-goal">{user.goal}</dd>
            </dl>
            <div class="actions">
              {user.status === 'active' ? (
                <button type="button" disabled={busy} onClick={() => act(api.startOwnHibernation)}>
                  Start hibernation
                </button>
              ) : (
                <button
                  type="button"
                  class="button-secondary"
                  disabled={busy}
                  onClick={() => act(api.cancelOwnHibernation)}
                >
                  Cancel hibernation
                </button>
              )}
            </div>
            {actionError && (
              <p class="error" role="alert">
                {actionError}
              </p>
            )}
          </section>

          <section class="card" aria-labelledby="permissions-heading">
            <h2 id="permissions-heading">Permissions</h2>
            <ul class="tags" data-testid="user-permissions" aria-live="polite">
              {user.permissions.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
            {user.permissions.length === 0 && <p class="muted">No permissions granted.</p>}
          </section>

          <section class="card wide" aria-labelledby="history-heading">
            <h2 id="history-heading">History</h2>
            {!canReadHistory && <p class="muted">You do not have permission to read your history.</p>}
            {historyError && <p class="error">{historyError}</p>}
            <TransactionList transactions={state.transactions} />
            {canReadHistory && state.transactions.length === 0 && <p class="muted">Nothing yet.</p>}
          </section>
        </div>
      )}
    </Layout>
  )
}
