import { Link } from '../router.js'

export const NotFoundPage = () => (
  <main id="main" class="narrow">
    <h1 tabIndex={-1}>Page not found</h1>
    <p>
      <Link href="/">Go to your status page</Link>
    </p>
  </main>
)
