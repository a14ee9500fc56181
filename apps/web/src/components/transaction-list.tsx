import type { TransactionJson } from '@dormant/client'
import { formatDateTime } from '../format.js'

const describe = (t: TransactionJson) =>
  t.type === 'hibernation.completed' ? 'Hibernation completed' : t.type.replaceAll('.', ' ')

export const TransactionList = ({ transactions }: { transactions: readonly TransactionJson[] }) => (
  <ol class="history" data-testid="transactions" aria-label="Transaction history">
    {transactions.map((t) => (
      <li key={t.id} data-transaction-id={t.id}>
        <span>{describe(t)}</span>
        <time class="muted" dateTime={t.createdAt}>
          {formatDateTime(t.createdAt)}
        </time>
      </li>
    ))}
  </ol>
)
