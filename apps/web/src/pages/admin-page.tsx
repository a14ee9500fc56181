import { isApiError, newerUser, type PermissionInfo, type UserJson } from '@dormant/client'
import { useEffect, useState } from 'preact/hooks'
import { api, errorMessage } from '../api.js'
import { ConnectionBadge } from '../components/connection-badge.js'
import { CreateUserForm } from '../components/create-user-form.js'
import { EventFeed } from '../components/event-feed.js'
import { Layout } from '../components/layout.js'
import { UserEditor } from '../components/user-editor.js'
import { UsersTable } from '../components/users-table.js'
import { Link, navigate } from '../router.js'
import { useEventStream } from '../use-event-stream.js'

export const AdminPage = () => {
  const [me, setMe] = useState<UserJson | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [catalogue, setCatalogue] = useState<PermissionInfo[]>([])
  const [selected, setSelected] = useState<UserJson | null>(null)
  const [reloadKey, setReloadKey] = useState(0)

  useEffect(() => {
    api.me().then(
      (user) => (user.role === 'admin' ? setMe(user) : navigate('/', { replace: true })),
      (err) => (isApiError(err, 'unauthorized') ? navigate('/login', { replace: true }) : setError(errorMessage(err))),
    )
  }, [])
  useEffect(() => {
    if (me) api.permissions().then(setCatalogue, (err) => setError(errorMessage(err)))
  }, [me])

  const { state } = useEventStream(me ? '/api/admin/events' : null, me?.id)
  const self = state.user ?? me
  const live = selected && state.users[selected.id] ? newerUser(selected, state.users[selected.id]!) : selected

  return (
    <Layout user={self}>
      <div class="page-head">
        <h1 tabIndex={-1}>Admin</h1>
        {me && <ConnectionBadge state={state.connection} />}
        <Link href="/admin/webhooks">Webhooks</Link>
        <a class="external" href="/admin/queues">
          Job queues (Bull Board)
        </a>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {!me ? (
        <p class="muted">Checking your access…</p>
      ) : (
        <div class="grid admin-grid">
          <UsersTable
            live={state.users}
            selectedId={selected?.id ?? null}
            onSelect={setSelected}
            reloadKey={reloadKey}
          />
          {live && <UserEditor user={live} catalogue={catalogue} onClose={() => setSelected(null)} />}
          <CreateUserForm
            onCreated={(user) => {
              setSelected(user)
              setReloadKey((k) => k + 1)
            }}
          />
          <EventFeed feed={state.feed} />
        </div>
      )}
    </Layout>
  )
}
