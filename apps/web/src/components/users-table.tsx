import { newerUser, type UserJson, type UsersPage } from '@dormant/client'
import { useEffect, useState } from 'preact/hooks'
import { api, errorMessage } from '../api.js'

const PAGE_SIZE = 20

type Props = {
  /** Newest versions seen on the admin stream; rows update from these live. */
  live: Readonly<Record<string, UserJson>>
  selectedId: string | null
  onSelect: (user: UserJson) => void
  /** Bump to fetch the current page again (e.g. after creating a user). */
  reloadKey: number
}

/** Users, searched and paged by the API (cursor = last email of the previous page). */
export const UsersTable = ({ live, selectedId, onSelect, reloadKey }: Props) => {
  const [draft, setDraft] = useState('')
  const [query, setQuery] = useState('')
  const [cursors, setCursors] = useState<(string | null)[]>([null])
  const [page, setPage] = useState<UsersPage | null>(null)
  const [error, setError] = useState<string | null>(null)
  const cursor = cursors.at(-1) ?? null

  useEffect(() => {
    let cancelled = false
    setError(null)
    api.listUsers({ query, limit: PAGE_SIZE, cursor }).then(
      (p) => !cancelled && setPage(p),
      (err) => !cancelled && setError(errorMessage(err)),
    )
    return () => {
      cancelled = true
    }
  }, [query, cursor, reloadKey])

  const search = (e: Event) => {
    e.preventDefault()
    setQuery(draft.trim())
    setCursors([null])
  }
  const rows = (page?.users ?? []).map((u) => (live[u.id] ? newerUser(u, live[u.id]!) : u))

  return (
    <section class="card wide" aria-labelledby="users-heading">
      <h2 id="users-heading">Users</h2>
      <search>
        <form class="inline-form" onSubmit={search}>
          <label class="visually-hidden" for="user-search">
            Search users
          </label>
          <input
            id="user-search"
            type="search"
            placeholder="Email or name"
            value={draft}
            onInput={(e) => setDraft(e.currentTarget.value)}
          />
          <button type="submit">Search</button>
        </form>
      </search>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="table-scroll">
        <table data-testid="users-table">
          <caption class="visually-hidden">Users{query && ` matching “${query}”`}</caption>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Status</th>
              <th scope="col" class="permissions-cell">
                Permissions
              </th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((u) => (
              <tr key={u.id} data-user-id={u.id} aria-selected={u.id === selectedId}>
                <th scope="row">
                  {u.email}
                  {u.role === 'admin' && <span class="badge">admin</span>}
                </th>
                <td>
                  <span class={`pill pill-${u.status}`}>{u.status}</span>
                </td>
                <td class="permissions-cell">{u.permissions.join(', ') || '—'}</td>
                <td>
                  <button
                    type="button"
                    class="button-quiet"
                    onClick={() => onSelect(u)}
                    aria-label={`Manage ${u.email}`}
                  >
                    Manage
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {page && rows.length === 0 && <p class="muted">No users found.</p>}
      <nav class="pager" aria-label="Pages of users">
        <button
          type="button"
          class="button-secondary"
          disabled={cursors.length < 2}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          Previous
        </button>
        <span class="muted">Page {cursors.length}</span>
        <button
          type="button"
          class="button-secondary"
          disabled={!page?.nextCursor}
          onClick={() => page?.nextCursor && setCursors((c) => [...c, page.nextCursor])}
        >
          Next
        </button>
      </nav>
    </section>
  )
}
