import preact from '@preact/preset-vite'
import { defineConfig } from 'vite'

const api = process.env.DORMANT_API_URL ?? 'http://127.0.0.1:3000'

export default defineConfig({
  plugins: [preact()],
  server: {
    // No changeOrigin: the API's same-origin check compares Origin with the Host the browser used.
    proxy: {
      '/api': {
        target: api,
        configure: (proxy) => {
          // Streams must reach the browser frame by frame: nothing may buffer or compress them.
          proxy.on('proxyRes', (res) => {
            if (res.headers['content-type']?.startsWith('text/event-stream')) {
              res.headers['cache-control'] = 'no-cache, no-transform'
              res.headers['x-accel-buffering'] = 'no'
            }
          })
        },
      },
      '/admin/queues': { target: api },
    },
  },
  build: { outDir: 'dist', emptyOutDir: true },
})
