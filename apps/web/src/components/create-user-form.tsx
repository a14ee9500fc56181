import type { Role, UserJson } from '@dormant/client'
import { useState } from 'preact/hooks'
import { api, errorMessage } from '../api.js'

export const CreateUserForm = ({ onCreated }: { onCreated: (user: UserJson) => void }) => {
  const [email, setEmail] = useState('')
  const [name, setName] = useState('')
  const [password, setPassword] = useState('')
  const [role, setRole] = useState<Role>('user')
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null)

  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setMessage(null)
    try {
      const user = await api.createUser({ email, password, role, ...(name ? { name } : {}) })
      setEmail('')
      setName('')
      setPassword('')
      setMessage({ text: `Created ${user.email}.`, error: false })
      onCreated(user)
    } catch (err) {
      setMessage({ text: errorMessage(err), error: true })
    } finally {
      setBusy(false)
    }
  }

  return (
    <section class="card" aria-labelledby="create-heading">
      <h2 id="create-heading">Create a user</h2>
      <form class="stack" onSubmit={submit}>
        <label>
          Email
          <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          <span>
            Name <span class="muted">(optional)</span>
          </span>
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          <span>
            Password <span class="muted">(at least 8 characters)</span>
          </span>
          <input
            type="password"
            required
            minLength={8}
            autoComplete="new-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            <option value="user">user</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <button type="submit" disabled={busy}>
          Create user
        </button>
        <p class={message?.error ? 'error' : 'muted'} role="status">
          {message?.text}
        </p>
      </form>
    </section>
  )
}
