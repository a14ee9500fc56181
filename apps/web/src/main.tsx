import { render } from 'preact'
import { App } from './app.js'
import './styles.css'

render(<App />, document.getElementById('app')!)

// A page kept in the back/forward cache missed every change of user while it was away:
// it is hidden as it goes, and loaded afresh (asking whose session it is) if it comes back.
addEventListener('pagehide', (e) => {
  if (e.persisted) document.getElementById('app')!.hidden = true
})
addEventListener('pageshow', (e) => {
  if (e.persisted) location.reload()
})
